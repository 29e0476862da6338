package io.switchhead.graph.generate;

import static com.google.common.base.Preconditions.checkArgument;

/**
 * How the next token is chosen from the logits: greedy at temperature 0, otherwise sampled from
 * softmax(logits / temperature) restricted to the {@code topK} most likely tokens (0: all) and
 * then to the smallest set of them whose probability reaches {@code topP} (1: all).
 */
public record Sampling(double temperature, int topK, double topP, long seed) {

  public Sampling {
    checkArgument(temperature >= 0 && Double.isFinite(temperature), "temperature (%s) must be >= 0 (0 picks the most likely token)", temperature);
    checkArgument(topK >= 0, "top-k (%s) must be >= 0 (0 keeps every token)", topK);
    checkArgument(topP > 0 && topP <= 1, "top-p (%s) must be in (0, 1] (1 keeps every token)", topP);
  }

  /** Sampling at {@code temperature} from every token. */
  public static Sampling of(double temperature, long seed) {
    return new Sampling(temperature, 0, 1, seed);
  }
}
