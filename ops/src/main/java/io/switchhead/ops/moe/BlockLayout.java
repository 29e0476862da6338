package io.switchhead.ops.moe;

import static com.google.common.base.Preconditions.checkArgument;

/**
 * Static sizes of the sorted layout: the N*k (row, slot) pairs sorted by expert, each expert's run
 * padded up to a multiple of the block size B, so every block of B rows belongs to one expert.
 *
 * <p>Padding is at most B-1 rows per expert, so N*k + M*(B-1) rows always suffice, whatever the
 * routing. Past {@link MoeTuning#BLOCK_LAYOUT_SINGLE_GROUP_MAX_ROWS} worst-case rows, blocks are
 * computed in groups of G blocks, one loop iteration each, and only the groups that a routing fills
 * run: the buffer holds the worst case, rounded up to whole groups, but the work follows the actual
 * padding, about M*B/2 rows for spread routings. Larger blocks mean fewer
 * weight copies (one per block) but more padding, which is why B is chosen from the shapes.
 *
 * @param groupBlocks G, blocks per loop iteration
 */
public record BlockLayout(int pairs, int experts, int blockSize, int groupBlocks) {

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

  /** Groups of about {@link MoeTuning#LOOP_GROUP_ROWS} rows, no more blocks than the worst case needs. */
  public BlockLayout(int pairs, int experts, int blockSize) {
    this(pairs, experts, blockSize, defaultGroupBlocks(pairs, experts, blockSize));
  }

  /** Layout for these shapes with an explicit block size. */
  public static BlockLayout of(MatmulShapes shapes, int blockSize) {
    return new BlockLayout(shapes.pairs(), shapes.experts(), blockSize);
  }

  /**
   * One group up to {@link MoeTuning#BLOCK_LAYOUT_SINGLE_GROUP_MAX_ROWS}; beyond, as few groups as
   * groups of at most {@link MoeTuning#LOOP_GROUP_ROWS} allow, sized evenly so that rounding up to
   * whole groups adds little.
   */
  private static int defaultGroupBlocks(int pairs, int experts, int blockSize) {
    checkArgument(blockSize >= 1, "blockSize B must be >= 1, got %s", blockSize);
    int worst = worstCaseBlocks(pairs, experts, blockSize);
    if ((long) worst * blockSize <= MoeTuning.BLOCK_LAYOUT_SINGLE_GROUP_MAX_ROWS) {
      return worst;
    }
    int largest = Math.max(1, MoeTuning.LOOP_GROUP_ROWS / blockSize);
    int groups = (worst + largest - 1) / largest;
    return (worst + groups - 1) / groups;
  }

  /** Blocks the worst routing fills: N*k + M*(B-1) rows in whole blocks. */
  private static int worstCaseBlocks(int pairs, int experts, int blockSize) {
    long worst = (long) pairs + (long) experts * (blockSize - 1);
    return Math.toIntExact((worst + blockSize - 1) / blockSize);
  }

  /**
   * The largest power of two B in [{@link MoeTuning#DEFAULT_BLOCK_SIZE_MIN}, {@link
   * MoeTuning#DEFAULT_BLOCK_SIZE_MAX}] whose worst-case padding M*B is at most half of the N*k real
   * rows; the smallest when even that pads more. Bigger blocks amortise the per-block weight copies
   * (dIn*dOut values per B rows, gathered and written back several times) and run larger matmuls;
   * the half bounds the wasted rows. The layout serves XLA (the plain graph uses the segmented
   * one), and under XLA on the CPU the weight copies cost more than padding
   * (docs/benchmarks/conditional-matmul.md). At N*k = 16384, for M = 4, 8, 16, 32, 64 it picks 256,
   * 256, 256, 256, 128.
   */
  public static int defaultBlockSize(MatmulShapes shapes) {
    int b = MoeTuning.DEFAULT_BLOCK_SIZE_MAX;
    while (b > MoeTuning.DEFAULT_BLOCK_SIZE_MIN && (long) shapes.experts() * b * MoeTuning.DEFAULT_BLOCK_PADDING_DIVISOR > shapes.pairs()) {
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
