package io.switchhead.graph.generate;

import static com.google.common.base.Preconditions.checkArgument;

import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/**
 * Continues a prompt on a {@link TokenDecoder}: the prompt in one call, then one call per new
 * token, each token chosen by a {@link Sampling} and handed to a listener as soon as it is chosen
 * (so a command line can stream it). The same decoder state, prompt and seed give the same tokens.
 */
public final class Generator {

  private Generator() {}

  /**
   * @param onToken receives each new token as it is chosen
   * @return the new tokens only
   */
  public static int[] continueFrom(TokenDecoder decoder, int[] prompt, int count, Sampling sampling, IntConsumer onToken) {
    checkArgument(prompt.length >= 1, "the prompt is empty: give at least one token");
    checkArgument(count >= 0, "token count (%s) must be >= 0", count);
    int v = decoder.vocabSize();
    for (int i = 0; i < prompt.length; i++) {
      checkArgument(prompt[i] >= 0 && prompt[i] < v, "prompt token %s at position %s is outside the vocabulary [0, %s)", prompt[i], i, v);
    }
    SplittableRandom random = new SplittableRandom(sampling.seed());
    decoder.reset();
    int[] out = new int[count];
    float[] logits = count > 0 ? decoder.append(prompt) : null;
    for (int n = 0; n < count; n++) {
      out[n] = choose(logits, sampling, random);
      onToken.accept(out[n]);
      if (n + 1 < count) {
        logits = decoder.append(new int[] {out[n]});
      }
    }
    return out;
  }

  /** The next token from {@code logits} [V]. */
  static int choose(float[] logits, Sampling s, SplittableRandom random) {
    if (s.temperature() == 0) {
      return argmax(logits);
    }
    // Candidates from most to least likely (ties by id, so the order is deterministic).
    Integer[] order = IntStream.range(0, logits.length).boxed().toArray(Integer[]::new);
    Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -logits[i]).thenComparingInt(i -> i));
    int kept = s.topK() == 0 ? order.length : Math.min(s.topK(), order.length);
    double max = logits[order[0]];
    double[] weights = new double[kept];
    double total = 0;
    for (int i = 0; i < kept; i++) {
      weights[i] = Math.exp((logits[order[i]] - max) / s.temperature());
      total += weights[i];
    }
    if (s.topP() < 1) {
      double mass = 0;
      int nucleus = 0;
      while (nucleus < kept && mass < s.topP() * total) {
        mass += weights[nucleus++];
      }
      kept = Math.max(1, nucleus);
      total = mass;
    }
    double u = random.nextDouble() * total;
    for (int i = 0; i < kept; i++) {
      u -= weights[i];
      if (u <= 0) {
        return order[i];
      }
    }
    return order[kept - 1];
  }

  private static int argmax(float[] values) {
    int best = 0;
    for (int i = 1; i < values.length; i++) {
      if (values[i] > values[best]) {
        best = i;
      }
    }
    return best;
  }
}
