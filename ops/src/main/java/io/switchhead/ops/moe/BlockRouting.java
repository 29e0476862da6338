package io.switchhead.ops.moe;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;

/**
 * Where every (row, slot) pair goes in the block-padded buffer, computed from the expert ids alone.
 *
 * <p>Int32 index arithmetic (and one float matmul that counts), built on {@code stopGradient(ids)}
 * so that gradient building never walks into it, even when the ids come from a differentiable
 * top-k. No sorts and no scatters, which XLA on the CPU runs on one thread
 * (docs/benchmarks/conditional-matmul.md, "Routing without sorts"). Instead a table of prefix
 * counts ({@link PrefixCounts}) says how many pairs of each expert come up to each pair:
 * <ul>
 *   <li>pair to buffer row: a pair's rank within its expert's run is one table entry (a gather);
 *   <li>buffer row to pair: the r-th pair of expert e is where e's count first exceeds r, found by
 *       a branchless binary search, log2(N*k) rounds of gathers.
 * </ul>
 *
 * @param padPos [N, k] buffer row of pair (n, j)
 * @param pairOfRow [P] pair t = n*k + j held by each buffer row; padding rows hold some valid pair
 *     (so gathers stay in range) and are marked by {@code inRun}
 * @param sourceRow [P] row of X each buffer row reads, {@code pairOfRow / k}
 * @param inRun [P] 1 for buffer rows holding a pair, 0 for padding
 * @param blockExpert [P/B] expert of each block; trailing unused blocks use expert M-1
 * @param usedGroups scalar, the groups of blocks ({@link BlockLayout#groupBlocks}) that hold pairs;
 *     the ones after them hold only padding and are skipped
 */
public record BlockRouting(
    Operand<TInt32> padPos,
    Operand<TInt32> pairOfRow,
    Operand<TInt32> sourceRow,
    Operand<TInt32> inRun,
    Operand<TInt32> blockExpert,
    Operand<TInt32> usedGroups,
    BlockLayout layout) {

  /** Builds the routing for {@code ids} [N, k] with values in [0, M). */
  public static BlockRouting build(Ops tf, Operand<TInt32> ids, MatmulShapes shapes, BlockLayout layout) {
    Ops rt = tf.withSubScope("routing");
    Operand<TInt32> expert = rt.reshape(rt.stopGradient(ids), rt.constant(new int[] {shapes.pairs()})); // [T]
    return build(rt, expert, PrefixCounts.of(rt, expert, shapes.pairs(), shapes.experts()), shapes, layout, 0);
  }

  /**
   * The routing of the pairs whose rank within their expert is {@code skipRanks} or more: each
   * expert's first {@code skipRanks} pairs are left out of the buffer ({@link
   * SpillConditionalMatmul} holds them elsewhere), and {@code padPos} is meaningless for them.
   *
   * @param expert [N*k] the pairs' experts, {@code ids} flattened, without gradient
   * @param table the prefix counts of {@code expert}
   */
  static BlockRouting build(
      Ops rt, Operand<TInt32> expert, PrefixCounts table, MatmulShapes shapes, BlockLayout layout, int skipRanks) {
    int experts = shapes.experts();
    int b = layout.blockSize();
    Operand<TInt32> zero = rt.constant(0);
    Operand<TInt32> skip = rt.constant(skipRanks);

    // Per expert: its run of pairs (past the skipped ranks) padded to a multiple of B, runs laid
    // out in expert order.
    Operand<TInt32> counts = rt.math.maximum(rt.math.sub(table.totals(), skip), zero); // [M]
    Operand<TInt32> blocksPerExpert = rt.math.floorDiv(rt.math.add(counts, rt.constant(b - 1)), rt.constant(b));
    Operand<TInt32> blockEnd = rt.math.cumsum(blocksPerExpert, zero); // [M] one past each expert's last block
    Operand<TInt32> bufferStart = rt.math.mul(rt.math.sub(blockEnd, blocksPerExpert), rt.constant(b)); // [M]

    // Pair t sits at its expert's buffer start plus its rank: the pairs of its expert before it.
    Operand<TInt32> padPos =
        rt.reshape(
            rt.math.add(rt.gather(bufferStart, expert, zero), rt.math.sub(table.ranks(rt, expert), skip)),
            rt.constant(new int[] {shapes.rows(), shapes.k()})); // [N, k]

    // Block -> expert: the number of experts whose blocks all end at or before it. Trailing blocks
    // (past the last expert's run) would get M: clamp them to M-1; they hold only padding.
    Operand<TInt32> blockIds = rt.range(zero, rt.constant(layout.blocks()), rt.constant(1)); // [P/B]
    Operand<TInt32> endedBefore = count(rt, rt.math.lessEqual(Indices.row(rt, blockEnd), Indices.column(rt, blockIds))); // [P/B]
    Operand<TInt32> blockExpert = rt.math.minimum(endedBefore, rt.constant(experts - 1)); // [P/B]
    int g = layout.groupBlocks();
    Operand<TInt32> usedBlocks = rt.reduceSum(blocksPerExpert, zero);
    Operand<TInt32> usedGroups = rt.math.floorDiv(rt.math.add(usedBlocks, rt.constant(g - 1)), rt.constant(g)); // []

    // Buffer row -> pair: row p of an expert-e block holds e's pair of rank p - bufferStart[e];
    // ranks past e's count are padding and read e's last pair (some valid pair if e has none).
    Operand<TInt32> bufferRow = rt.range(zero, rt.constant(layout.paddedRows()), rt.constant(1)); // [P]
    Operand<TInt32> rowExpert =
        rt.reshape(
            rt.broadcastTo(rt.expandDims(blockExpert, rt.constant(1)), rt.constant(new int[] {layout.blocks(), b})),
            rt.constant(new int[] {layout.paddedRows()})); // [P], each block's expert repeated B times
    Operand<TInt32> rowRank = rt.math.sub(bufferRow, rt.gather(bufferStart, rowExpert, zero)); // [P]
    PrefixCounts.RowPairs rows = table.pairsOfRank(rt, rowExpert, rt.math.add(rowRank, skip)); // [P] each
    Operand<TInt32> sourceRow = rt.gather(Indices.rowOfPair(rt, shapes), rows.pair(), zero); // [P]
    return new BlockRouting(padPos, rows.pair(), sourceRow, rows.held(), blockExpert, usedGroups, layout);
  }

  /**
   * Row sums of a [Q, I] comparison (of a column of queries with a row of items): XLA fuses the
   * compare and the sum into one parallel loop.
   */
  private static Operand<TInt32> count(Ops tf, Operand<TBool> hits) {
    return tf.reduceSum(tf.dtypes.cast(hits, TInt32.class), tf.constant(1)); // [Q]
  }
}
