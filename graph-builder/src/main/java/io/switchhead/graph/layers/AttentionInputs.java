package io.switchhead.graph.layers;

import static com.google.common.base.Preconditions.checkArgument;

import org.tensorflow.Operand;
import org.tensorflow.types.family.TFloating;

/**
 * What an attention layer attends with: the query side and the key/value side, already normalised,
 * and how the two line up. The key/value side is the memory (M rows) followed by the chunk (T rows);
 * the queries are the chunk's rows, so query t sees keys up to M + t.
 *
 * @param queries [B, T, D], the input of queries (and of SwitchHead's output selection)
 * @param keysValues [B, M + T, D], the input of keys and values (and of the value selection)
 * @param steps T, tokens in the chunk
 * @param memory M, memory rows before the chunk (0 without XL memory)
 */
public record AttentionInputs<T extends TFloating>(Operand<T> queries, Operand<T> keysValues, int steps, int memory) {

  public AttentionInputs {
    checkArgument(steps >= 1, "attention steps (%s) must be >= 1", steps);
    checkArgument(memory >= 0, "attention memory (%s) must be >= 0", memory);
  }

  /** Self-attention over one chunk without memory: queries, keys and values all read {@code x}. */
  public static <T extends TFloating> AttentionInputs<T> self(Operand<T> x, int steps) {
    return new AttentionInputs<>(x, x, steps, 0);
  }

  /** M + T, the keys each query row may see at most. */
  public int keys() {
    return memory + steps;
  }
}
