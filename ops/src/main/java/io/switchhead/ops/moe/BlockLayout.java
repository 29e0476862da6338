package io.switchhead.ops.moe;

import static com.google.common.base.Preconditions.checkArgument;

/**
 * Static sizes of the sorted layout: the N*k (row, slot) pairs sorted by expert, each expert's run
 * padded up to a multiple of the block size B, so every block of B rows belongs to one expert.
 *
 * <p>Padding is at most B-1 rows per expert, so P = N*k + M*(B-1) rows, rounded up to a multiple of
 * B, always suffice, whatever the routing. Their cost is M*(B-1) extra rows: larger blocks mean fewer
 * weight copies (one per block) but more padding, which is why B is chosen from the shapes.
 */
public record BlockLayout(int pairs, int experts, int blockSize) {

  /** Smallest and largest default block size; see {@link #defaultBlockSize}. */
  static final int MIN_DEFAULT_BLOCK = 8;

  static final int MAX_DEFAULT_BLOCK = 256;

  public BlockLayout {
    checkArgument(pairs >= 1, "pairs N*k must be >= 1, got %s", pairs);
    checkArgument(experts >= 1, "experts M must be >= 1, got %s", experts);
    checkArgument(blockSize >= 1, "blockSize B must be >= 1, got %s", blockSize);
    checkArgument(
        (long) pairs + (long) experts * blockSize < Integer.MAX_VALUE,
        "padded rows N*k + M*B (%s + %s * %s) must fit in int32",
        pairs,
        experts,
        blockSize);
  }

  /** Layout for these shapes with an explicit block size. */
  public static BlockLayout of(MatmulShapes shapes, int blockSize) {
    return new BlockLayout(shapes.pairs(), shapes.experts(), blockSize);
  }

  /**
   * The largest power of two B in [8, 256] whose worst-case padding M*B is at most half of the N*k
   * real rows; 8 when even that pads more. Bigger blocks amortise the per-block weight copies
   * (dIn*dOut values per B rows, gathered and written back several times) and run larger matmuls;
   * the half bounds the wasted rows. The layout serves XLA (the plain graph uses the segmented
   * one), and under XLA on the CPU the weight copies cost more than padding: at N*k = 16384, dIn =
   * 512, dOut = 128, M = 64 on 2 cores, B = 128 took 62.5 ms against 70.4 ms for B = 64 (the plain
   * graph: equal), and at M = 32, B = 256 and 128 tied (docs/benchmarks/conditional-matmul.md).
   * For M = 4, 8, 16, 32, 64 it picks 256, 256, 256, 256, 128.
   */
  public static int defaultBlockSize(MatmulShapes shapes) {
    int b = MAX_DEFAULT_BLOCK;
    while (b > MIN_DEFAULT_BLOCK && (long) shapes.experts() * b * 2 > shapes.pairs()) {
      b /= 2;
    }
    return b;
  }

  /** P: rows of the padded buffer, a multiple of B. */
  public int paddedRows() {
    long worst = (long) pairs + (long) experts * (blockSize - 1);
    return Math.toIntExact((worst + blockSize - 1) / blockSize * blockSize);
  }

  /** P / B: blocks in the padded buffer, each run with one expert's weights. */
  public int blocks() {
    return paddedRows() / blockSize;
  }
}
