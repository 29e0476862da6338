package io.switchhead.ops.moe;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.math.Cumsum;
import org.tensorflow.op.nn.TopK;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;

/**
 * Where every (row, slot) pair goes in the block-padded buffer, computed from the expert ids alone.
 *
 * <p>Int32 index arithmetic only, built on {@code stopGradient(ids)} so that gradient building never
 * walks into it, even when the ids come from a differentiable top-k. It uses sorts, gathers and
 * compare-and-count reductions, no scatters: XLA on the CPU turns every scatter into a serial loop
 * with one iteration per index, while gathers and reductions become parallel loops. The counts
 * compare each pair (or block) with each expert, O(N*k*M) int compares: at M = 64 that is about 1M,
 * against 6 GFLOP of matmul, so nothing here is a cost that grows with M in practice.
 *
 * <p>Both directions are kept, so that the backward can gather too: pair to buffer row
 * ({@code padPos}) and buffer row to pair ({@code pairOfRow}).
 *
 * @param padPos [N, k] buffer row of pair (n, j)
 * @param pairOfRow [P] pair t = n*k + j held by each buffer row; padding rows hold some valid pair
 *     (so gathers stay in range) and are marked by {@code inRun}
 * @param sourceRow [P] row of X each buffer row reads, {@code pairOfRow / k}
 * @param inRun [P] 1 for buffer rows holding a pair, 0 for padding
 * @param blockExpert [P/B] expert of each block; trailing unused blocks use expert M-1
 */
public record BlockRouting(
    Operand<TInt32> padPos,
    Operand<TInt32> pairOfRow,
    Operand<TInt32> sourceRow,
    Operand<TInt32> inRun,
    Operand<TInt32> blockExpert,
    BlockLayout layout) {

  /** Builds the routing for {@code ids} [N, k] with values in [0, M). */
  public static BlockRouting build(Ops tf, Operand<TInt32> ids, MatmulShapes shapes, BlockLayout layout) {
    Ops rt = tf.withSubScope("routing");
    int pairs = shapes.pairs();
    int experts = shapes.experts();
    int b = layout.blockSize();
    Operand<TInt32> zero = rt.constant(0);
    Operand<TInt32> expert = rt.reshape(rt.stopGradient(ids), rt.constant(new int[] {pairs})); // [T]
    Operand<TInt32> pair = rt.range(zero, rt.constant(pairs), rt.constant(1)); // [T]
    Operand<TInt32> expertIds = rt.range(zero, rt.constant(experts), rt.constant(1)); // [M]

    // Stable sort by expert: the keys expert*T + pair are distinct, so top-k of their negation lists
    // the pairs by expert, and by pair within one expert.
    Operand<TInt32> keys = rt.math.add(rt.math.mul(expert, rt.constant(pairs)), pair); // [T]
    TopK<TInt32, TInt32> sorted = rt.nn.topK(rt.math.neg(keys), rt.constant(pairs), new TopK.Options[0]);
    Operand<TInt32> order = sorted.indices(); // [T] pair at sorted position i
    Operand<TInt32> sortedExpert = rt.gather(expert, order, zero); // [T]
    // Sorting the permutation inverts it: inverse[t] = sorted position of pair t.
    Operand<TInt32> inverse = rt.nn.topK(rt.math.neg(order), rt.constant(pairs), new TopK.Options[0]).indices(); // [T]

    // Per expert: pairs, first sorted position, first buffer row (runs padded to multiples of B).
    Operand<TInt32> counts = count(rt, rt.math.equal(column(rt, expertIds), row(rt, expert))); // [M]
    Operand<TInt32> runStart = rt.math.cumsum(counts, zero, Cumsum.exclusive(true)); // [M]
    Operand<TInt32> blocksPerExpert = rt.math.floorDiv(rt.math.add(counts, rt.constant(b - 1)), rt.constant(b));
    Operand<TInt32> blockEnd = rt.math.cumsum(blocksPerExpert, zero); // [M] one past each expert's last block
    Operand<TInt32> bufferStart = rt.math.mul(rt.math.sub(blockEnd, blocksPerExpert), rt.constant(b)); // [M]

    // Pair t sits at its expert's buffer start plus its rank within the expert.
    Operand<TInt32> shift = rt.math.sub(bufferStart, runStart); // [M]
    Operand<TInt32> sortedPos = rt.math.add(rt.gather(shift, sortedExpert, zero), pair); // [T]
    Operand<TInt32> padPos =
        rt.reshape(rt.gather(sortedPos, inverse, zero), rt.constant(new int[] {shapes.rows(), shapes.k()})); // [N, k]

    // Block -> expert: the number of experts whose blocks all end at or before it. Trailing blocks
    // (past the last expert's run) would get M: clamp them to M-1; they hold only padding.
    Operand<TInt32> blockIds = rt.range(zero, rt.constant(layout.blocks()), rt.constant(1)); // [P/B]
    Operand<TInt32> endedBefore = count(rt, rt.math.lessEqual(row(rt, blockEnd), column(rt, blockIds))); // [P/B]
    Operand<TInt32> blockExpert = rt.math.minimum(endedBefore, rt.constant(experts - 1)); // [P/B]

    // Buffer row -> pair: buffer row p of block p/B is rank p - bufferStart within its expert's run;
    // ranks past the run's length are padding (clamped to a valid sorted position).
    Operand<TInt32> bufferRow = rt.range(zero, rt.constant(layout.paddedRows()), rt.constant(1)); // [P]
    Operand<TInt32> rowExpert =
        rt.reshape(
            rt.broadcastTo(rt.expandDims(blockExpert, rt.constant(1)), rt.constant(new int[] {layout.blocks(), b})),
            rt.constant(new int[] {layout.paddedRows()})); // [P], each block's expert repeated B times
    Operand<TInt32> rank = rt.math.sub(bufferRow, rt.gather(bufferStart, rowExpert, zero)); // [P]
    Operand<TInt32> inRun = rt.dtypes.cast(rt.math.less(rank, rt.gather(counts, rowExpert, zero)), TInt32.class);
    Operand<TInt32> sortedIndex =
        rt.math.minimum(rt.math.add(rt.gather(runStart, rowExpert, zero), rank), rt.constant(pairs - 1)); // [P]
    Operand<TInt32> pairOfRow = rt.gather(order, sortedIndex, zero); // [P]
    Operand<TInt32> sourceRow = rt.gather(rowOfPair(rt, shapes), pairOfRow, zero); // [P]
    return new BlockRouting(padPos, pairOfRow, sourceRow, inRun, blockExpert, layout);
  }

  /** [N*k] the row n of pair t = n*k + j, as a constant (an int division per buffer row is slow). */
  private static Operand<TInt32> rowOfPair(Ops tf, MatmulShapes shapes) {
    int[] rows = new int[shapes.pairs()];
    for (int t = 0; t < rows.length; t++) {
      rows[t] = t / shapes.k();
    }
    return tf.constant(rows);
  }

  /**
   * Row sums of a [Q, I] comparison (of a column of queries with a row of items): XLA fuses the
   * compare and the sum into one parallel loop.
   */
  private static Operand<TInt32> count(Ops tf, Operand<TBool> hits) {
    return tf.reduceSum(tf.dtypes.cast(hits, TInt32.class), tf.constant(1)); // [Q]
  }

  private static Operand<TInt32> column(Ops tf, Operand<TInt32> v) {
    return tf.expandDims(v, tf.constant(1)); // [Q, 1]
  }

  private static Operand<TInt32> row(Ops tf, Operand<TInt32> v) {
    return tf.expandDims(v, tf.constant(0)); // [1, I]
  }
}
