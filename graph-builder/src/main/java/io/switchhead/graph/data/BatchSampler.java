package io.switchhead.graph.data;

import static com.google.common.base.Preconditions.checkArgument;

import java.util.SplittableRandom;

/**
 * Random windows of a token array, a pure function of (seed, step): a resumed run draws exactly the
 * batches the uninterrupted one would have, with no sampler state to save.
 */
public final class BatchSampler implements Batches {

  private final TokenArray tokens;
  private final int batch;
  private final int window;
  private final long seed;

  /**
   * @param window tokens per row (context + 1: inputs are the first T, targets the last T)
   */
  public BatchSampler(TokenArray tokens, int batch, int window, long seed) {
    checkArgument(batch >= 1, "batch (%s) must be >= 1", batch);
    checkArgument(window >= 2, "window (%s) must be >= 2", window);
    checkArgument(tokens.length() >= window,
        "the data has %s tokens, fewer than one window of %s (context + 1)", tokens.length(), window);
    this.tokens = tokens;
    this.batch = batch;
    this.window = window;
    this.seed = seed;
  }

  /** The batch of {@code step}: [batch * window] tokens, row-major. */
  @Override
  public int[] batch(long step) {
    SplittableRandom random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + step);
    int[] out = new int[batch * window];
    int[] row = new int[window];
    for (int b = 0; b < batch; b++) {
      long start = random.nextLong(tokens.length() - window + 1);
      tokens.copy(start, row);
      System.arraycopy(row, 0, out, b * window, window);
    }
    return out;
  }
}
