package io.switchhead.graph.data;

import static com.google.common.base.Preconditions.checkArgument;

import java.util.SplittableRandom;

/**
 * Consecutive windows for models with an XL memory: row b reads its own stream from a random start,
 * step s taking the chunk after step s-1's, so each chunk's memory is the chunk before it. A pure
 * function of (seed, step), like {@link BatchSampler}; a stream that reaches the end wraps around.
 */
public final class StreamSampler implements Batches {

  private final TokenArray tokens;
  private final int batch;
  private final int context;
  private final long[] starts;

  /** @param context tokens per chunk (T); each row of a batch holds T + 1 tokens */
  public StreamSampler(TokenArray tokens, int batch, int context, long seed) {
    checkArgument(batch >= 1, "batch (%s) must be >= 1", batch);
    checkArgument(tokens.length() > context + 1L,
        "the data has %s tokens, too few for a chunk of %s (context + 1)", tokens.length(), context + 1);
    this.tokens = tokens;
    this.batch = batch;
    this.context = context;
    SplittableRandom random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + 1);
    this.starts = new long[batch];
    for (int b = 0; b < batch; b++) {
      starts[b] = random.nextLong(positions());
    }
  }

  private long positions() {
    return tokens.length() - context;
  }

  @Override
  public int[] batch(long step) {
    int window = context + 1;
    int[] out = new int[batch * window];
    int[] row = new int[window];
    for (int b = 0; b < batch; b++) {
      long start = Math.floorMod(starts[b] + step * context, positions());
      tokens.copy(start, row);
      System.arraycopy(row, 0, out, b * window, window);
    }
    return out;
  }
}
