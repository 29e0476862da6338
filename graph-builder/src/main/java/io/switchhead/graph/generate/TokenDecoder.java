package io.switchhead.graph.generate;

/**
 * A model reading one sequence, token after token: what generation runs on. Implementations keep
 * what they need between calls (a cache of keys and values, or the tokens so far).
 */
public interface TokenDecoder extends AutoCloseable {

  /** The model's vocabulary size V. */
  int vocabSize();

  /**
   * Appends {@code tokens} (at least one) to the sequence and returns the logits (or
   * log-probabilities: sampling only needs them up to a constant) of the token after the last, [V].
   */
  float[] append(int[] tokens);

  /** Forgets the sequence: the next {@link #append} starts a new one. */
  void reset();

  @Override
  void close();
}
