package io.switchhead.ops.moe;

import static com.google.common.base.Preconditions.checkArgument;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Squeeze;
import org.tensorflow.op.math.Cumsum;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * For each expert e and pair t, how many of the pairs 0..t chose e: the table behind {@link
 * BlockRouting}'s ranks, built without a sort or a scatter.
 *
 * <p>Two levels. Within chunks of C = {@link MoeTuning#PREFIX_COUNT_CHUNK} pairs, one matmul of the
 * [M, T] expert-hit matrix by a triangular matrix of ones gives the running counts (float32, exact:
 * they are at most C); an int32 cumulative sum of the chunk totals adds the counts before each
 * chunk. O(M*T*C) flops, a few percent of those of the matmuls it routes for.
 *
 * @param table [M * T'] inclusive counts, expert-major, T' = T rounded up to a multiple of C
 * @param totals [M] pairs per expert
 * @param pairs T
 * @param stride T'
 */
record PrefixCounts(Operand<TInt32> table, Operand<TInt32> totals, int pairs, int stride) {

  static PrefixCounts of(Ops tf, Operand<TInt32> expert, int pairs, int experts) {
    int chunk = MoeTuning.PREFIX_COUNT_CHUNK; // C
    checkArgument((long) experts * pairs < Integer.MAX_VALUE, "M*N*k = %s * %s must fit in int32", experts, pairs);
    int chunks = (pairs + chunk - 1) / chunk;
    int stride = chunks * chunk;
    Operand<TInt32> expertPadded =
        stride == pairs
            ? expert
            : tf.concat(
                List.of(expert, tf.fill(tf.constant(new int[] {stride - pairs}), tf.constant(-1))), // -1: no expert
                tf.constant(0)); // [T']
    Operand<TInt32> expertIds = tf.range(tf.constant(0), tf.constant(experts), tf.constant(1)); // [M]
    Operand<TBool> hit = tf.math.equal(Indices.column(tf, expertIds), Indices.row(tf, expertPadded)); // [M, T']
    Operand<TFloat32> hitChunks =
        tf.reshape(tf.dtypes.cast(hit, TFloat32.class), tf.constant(new int[] {experts * chunks, chunk}));
    float[][] upper = new float[chunk][chunk]; // 1 where row <= column: inclusive running sums
    for (int i = 0; i < chunk; i++) {
      for (int j = i; j < chunk; j++) {
        upper[i][j] = 1f;
      }
    }
    Operand<TInt32> within =
        tf.reshape(
            tf.dtypes.cast(tf.linalg.matMul(hitChunks, tf.constant(upper)), TInt32.class),
            tf.constant(new int[] {experts, chunks, chunk})); // [M, chunks, C]
    Operand<TInt32> chunkTotals =
        tf.squeeze(
            tf.slice(within, tf.constant(new int[] {0, 0, chunk - 1}), tf.constant(new int[] {experts, chunks, 1})),
            Squeeze.axis(List.of(2L))); // [M, chunks]
    Operand<TInt32> before = tf.math.cumsum(chunkTotals, tf.constant(1), Cumsum.exclusive(true)); // [M, chunks]
    Operand<TInt32> table =
        tf.reshape(tf.math.add(within, tf.expandDims(before, tf.constant(2))), tf.constant(new int[] {experts * stride}));
    Operand<TInt32> totals = tf.reduceSum(chunkTotals, tf.constant(1)); // [M]
    return new PrefixCounts(table, totals, pairs, stride);
  }

  /** [T] each pair's rank among the pairs of its expert: how many of them come before it. */
  Operand<TInt32> ranks(Ops tf, Operand<TInt32> expert) {
    Operand<TInt32> pair = tf.range(tf.constant(0), tf.constant(pairs), tf.constant(1));
    return tf.math.sub(countUpTo(tf, expert, pair), tf.constant(1));
  }

  /** How many of the pairs 0..t chose expert e, for each (e, t) given elementwise. */
  Operand<TInt32> countUpTo(Ops tf, Operand<TInt32> expert, Operand<TInt32> pair) {
    return tf.gather(table, tf.math.add(tf.math.mul(expert, tf.constant(stride)), pair), tf.constant(0));
  }

  /**
   * Buffer rows that each want expert e's pair of rank r, given elementwise: {@code pair}, that pair,
   * or e's last pair (some valid pair if e has none) where e has r or fewer pairs; {@code held}, 1
   * where the pair exists, 0 on padding rows.
   */
  record RowPairs(Operand<TInt32> pair, Operand<TInt32> held) {}

  /** The pair each buffer row holds: see {@link RowPairs}. */
  RowPairs pairsOfRank(Ops tf, Operand<TInt32> expert, Operand<TInt32> rank) {
    Operand<TInt32> count = tf.gather(totals, expert, tf.constant(0));
    Operand<TInt32> held = tf.dtypes.cast(tf.math.less(rank, count), TInt32.class);
    Operand<TInt32> wanted = tf.math.maximum(tf.math.minimum(rank, tf.math.sub(count, tf.constant(1))), tf.constant(0));
    return new RowPairs(firstExceeding(tf, expert, wanted), held);
  }

  /** The pair each row of a buffer of C rows per expert holds: row e*C + r, e's pair of rank r. */
  RowPairs capacityRows(Ops tf, int experts, int capacity) {
    int rows = Math.multiplyExact(experts, capacity);
    int[] rowExpert = new int[rows];
    int[] rowRank = new int[rows];
    for (int i = 0; i < rows; i++) {
      rowExpert[i] = i / capacity;
      rowRank[i] = i % capacity;
    }
    return pairsOfRank(tf, tf.constant(rowExpert), tf.constant(rowRank));
  }

  /**
   * For each (e, r) given elementwise, the first pair t at which e's count exceeds r, i.e. e's
   * pair of rank r; T-1 when e has r or fewer pairs. Branchless binary search: the position only
   * moves forward, by halving powers of two, while the count there is still at most r.
   */
  Operand<TInt32> firstExceeding(Ops tf, Operand<TInt32> expert, Operand<TInt32> rank) {
    Operand<TInt32> base = tf.math.mul(expert, tf.constant(stride));
    Operand<TInt32> last = tf.constant(pairs - 1);
    Operand<TInt32> pos = tf.math.sub(tf.zerosLike(rank), tf.constant(1)); // the last t known to have count <= r
    for (int step = Integer.highestOneBit(pairs); step >= 1; step /= 2) {
      Operand<TInt32> candidate = tf.math.add(pos, tf.constant(step));
      Operand<TInt32> count = tf.gather(table, tf.math.add(base, tf.math.minimum(candidate, last)), tf.constant(0));
      Operand<TBool> advance = tf.math.logicalAnd(tf.math.lessEqual(candidate, last), tf.math.lessEqual(count, rank));
      pos = tf.select(advance, candidate, pos);
    }
    return tf.math.minimum(tf.math.add(pos, tf.constant(1)), last);
  }
}
