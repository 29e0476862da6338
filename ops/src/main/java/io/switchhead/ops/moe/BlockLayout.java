package io.switchhead.ops.moe;

import static com.google.common.base.Preconditions.checkArgument;

/**
 * Static sizes of the sorted layout: the N*k (row, slot) pairs sorted by expert, each expert's run
 * padded up to a multiple of the block size B, so every block of B rows belongs to one expert.
 *
 * <p>Padding is at most B-1 rows per expert, so N*k + M*(B-1) rows always suffice, whatever the
 * routing. Past {@link #SINGLE_GROUP_ROWS} worst-case rows, blocks are computed in groups of G
 * blocks, one loop iteration each, and only the groups that a routing fills run: the buffer holds the worst case, rounded up to whole groups, but the
 * work follows the actual padding, about M*B/2 rows for spread routings. Larger blocks mean fewer
 * weight copies (one per block) but more padding, which is why B is chosen from the shapes.
 *
 * @param groupBlocks G, blocks per loop iteration
 */
public record BlockLayout(int pairs, int experts, int blockSize, int groupBlocks) {

  /**
   * Rows per loop iteration by default: big enough that one iteration's batched matmul runs at
   * full speed, small enough that its gathered inputs stay in cache and that few rows past the
   * routing's last block are computed.
   */
  static final int DEFAULT_GROUP_ROWS = 2048;

  /** Smallest and largest default block size; see {@link #defaultBlockSize}. */
  static final int MIN_DEFAULT_BLOCK = 8;

  static final int MAX_DEFAULT_BLOCK = 256;

  public BlockLayout {
    checkArgument(pairs >= 1, "pairs N*k must be >= 1, got %s", pairs);
    checkArgument(experts >= 1, "experts M must be >= 1, got %s", experts);
    checkArgument(blockSize >= 1, "blockSize B must be >= 1, got %s", blockSize);
    checkArgument(groupBlocks >= 1, "groupBlocks G must be >= 1, got %s", groupBlocks);
    checkArgument(
        (long) pairs + (long) experts * blockSize + (long) groupBlocks * blockSize < Integer.MAX_VALUE,
        "padded rows N*k + M*B + G*B (%s + %s * %s + %s * %s) must fit in int32",
        pairs,
        experts,
        blockSize,
        groupBlocks,
        blockSize);
  }

  /** Groups of about {@link #DEFAULT_GROUP_ROWS} rows, no more blocks than the worst case needs. */
  public BlockLayout(int pairs, int experts, int blockSize) {
    this(pairs, experts, blockSize, defaultGroupBlocks(pairs, experts, blockSize));
  }

  /** Layout for these shapes with an explicit block size. */
  public static BlockLayout of(MatmulShapes shapes, int blockSize) {
    return new BlockLayout(shapes.pairs(), shapes.experts(), blockSize);
  }

  /**
   * Worst cases up to this many rows are one group, which runs without a loop op. A loop pays off
   * only with enough groups to skip: TensorFlow 2.18's XLA CPU runtime slows a whole XL training
   * step down when it holds loops (switchhead-tiny-xl: 29 ms per step without, 42-46 ms with one or
   * two groups per matmul; the legacy runtime: no difference), at 10K rows (switchhead-tiny, batch
   * 16) the loop saved nothing under XLA, and the plain graph copies a loop's buffers (81 against
   * 64 ms per step).
   */
  static final int SINGLE_GROUP_ROWS = 16384;

  /**
   * One group up to {@link #SINGLE_GROUP_ROWS}; beyond, as few groups as groups of at most
   * {@link #DEFAULT_GROUP_ROWS} allow, sized evenly so that rounding up to whole groups adds little.
   */
  private static int defaultGroupBlocks(int pairs, int experts, int blockSize) {
    checkArgument(blockSize >= 1, "blockSize B must be >= 1, got %s", blockSize);
    int worst = worstCaseBlocks(pairs, experts, blockSize);
    if ((long) worst * blockSize <= SINGLE_GROUP_ROWS) {
      return worst;
    }
    int largest = Math.max(1, DEFAULT_GROUP_ROWS / blockSize);
    int groups = (worst + largest - 1) / largest;
    return (worst + groups - 1) / groups;
  }

  /** Blocks the worst routing fills: N*k + M*(B-1) rows in whole blocks. */
  private static int worstCaseBlocks(int pairs, int experts, int blockSize) {
    long worst = (long) pairs + (long) experts * (blockSize - 1);
    return Math.toIntExact((worst + blockSize - 1) / blockSize);
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

  /** Loop iterations that cover the worst case; a routing runs only the ones it fills. */
  public int groups() {
    return (worstCaseBlocks(pairs, experts, blockSize) + groupBlocks - 1) / groupBlocks;
  }

  /** P / B: blocks in the padded buffer, each run with one expert's weights; whole groups. */
  public int blocks() {
    return groups() * groupBlocks;
  }

  /** P: rows of the padded buffer. */
  public int paddedRows() {
    return Math.multiplyExact(blocks(), blockSize);
  }

  /** G*B: rows of one group. */
  public int groupRows() {
    return groupBlocks * blockSize;
  }
}
