package io.switchhead.ops.moe;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.math.IntMath;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.op.math.Cumsum;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TFloating;
import org.tensorflow.types.family.TType;

/**
 * Where the segmented matmul puts each sorted (row, slot) pair: one segment of rows per expert, in
 * expert order, each segment starting on an aligned row so that SplitV along rows shares its
 * input's buffer instead of copying every segment out.
 *
 * <p>TensorFlow's SplitV shares its input's buffer only where each part stays aligned to Eigen's
 * alignment (64 bytes where it was built for AVX-512, less elsewhere): for a matrix, only when a
 * whole row is a multiple of it; for a vector, when every part's start and end are. Rows of 412
 * float32 values (1,648 bytes) never meet the first, so each expert's segment is padded to a
 * multiple of {@link #alignmentRows} rows (at most that many less one per expert) and split as a
 * vector ({@link #split}). A pad row reads its segment's last pair (its input row and its output's
 * gradient) and has gate 0, so it adds nothing to dx, dw or the gates' gradient, and no pair's
 * output is read from it. Where rows are already aligned (widths of 16 float32 values) the layout
 * is the plain sorted order, split as a matrix, and no pad op is built.
 *
 * @param pairs [S] the pair of each segment row: the sorted order, each pad repeating its segment's last
 * @param rows [S] the input row of each segment row (pair / k)
 * @param sizes [M] the rows of each expert's segment, pads included
 * @param pairPositions [P] the segment row that holds each pair's product
 * @param gates [S] the gate of each segment row: its pair's, 0 on a pad
 * @param padded whether there are pad rows, and so splits as a vector
 */
record ExpertSegments<T extends TFloating>(
    Operand<TInt32> pairs, Operand<TInt32> rows, Operand<TInt32> sizes, Operand<TInt32> pairPositions, Operand<T> gates, boolean padded) {

  /** Eigen's largest alignment, which the widest (AVX-512) builds use; narrower builds divide it. */
  static final int ALIGN_BYTES = 64;

  /** The fewest rows whose bytes are a multiple of {@link #ALIGN_BYTES} for every row width given. */
  static int alignmentRows(int... rowBytes) {
    int rows = 1;
    for (int bytes : rowBytes) {
      checkArgument(bytes > 0, "a row of %s bytes", bytes);
      int needed = ALIGN_BYTES / IntMath.gcd(ALIGN_BYTES, bytes);
      rows = rows / IntMath.gcd(rows, needed) * needed;
    }
    return rows;
  }

  /** The bytes of one value of a floating type. */
  static int valueBytes(Class<? extends TFloating> type) {
    if (type == TFloat64.class) {
      return 8;
    }
    if (type == TFloat32.class) {
      return 4;
    }
    checkArgument(type == TFloat16.class || type == TBfloat16.class, "no byte size known for %s", type.getSimpleName());
    return 2;
  }

  /**
   * The segments of pairs sorted by expert ({@code order}, [P]) with {@code counts} [M] pairs per
   * expert, padded to multiples of {@code alignRows}; {@code flatGates} [P] is the gate of each pair.
   */
  static <T extends TFloating> ExpertSegments<T> of(Ops tf, Operand<TInt32> order, Operand<TInt32> flatIds, Operand<TInt32> counts,
      Operand<T> flatGates, int k, int alignRows) {
    checkArgument(alignRows >= 1, "alignRows %s", alignRows);
    Operand<TInt32> pairPositions = tf.math.invertPermutation(order); // [P] sorted position of each pair
    if (alignRows == 1) {
      return new ExpertSegments<>(order, tf.math.floorDiv(order, tf.constant(k)), counts, pairPositions,
          tf.gather(flatGates, order, tf.constant(0)), false);
    }
    Operand<TInt32> axis0 = tf.constant(0);
    Operand<TInt32> align = tf.constant(alignRows);
    Operand<TInt32> sizes = tf.math.mul(tf.math.floorDiv(tf.math.add(counts, tf.constant(alignRows - 1)), align), align); // [M]
    Operand<TInt32> ends = tf.math.cumsum(sizes, axis0); // [M]
    Operand<TInt32> starts = tf.math.sub(ends, sizes); // [M] first segment row of each expert
    Operand<TInt32> sortedStarts = tf.math.cumsum(counts, axis0, Cumsum.exclusive(true)); // [M] its first sorted pair

    // Each segment row's expert (how many segments end at or before it), then its rank in the segment.
    Operand<TInt32> segmentRow = tf.range(tf.constant(0), tf.sum(sizes, axis0), tf.constant(1)); // [S]
    Operand<TInt32> expert = tf.reshape(tf.upperBound(Indices.row(tf, ends), Indices.row(tf, segmentRow)), tf.constant(new int[] {-1})); // [S]
    Operand<TInt32> rank = tf.math.sub(segmentRow, tf.gather(starts, expert, axis0)); // [S]
    Operand<TInt32> count = tf.gather(counts, expert, axis0); // [S], at least 1: empty experts have no rows
    Operand<TInt32> sortedPair = tf.math.add(tf.gather(sortedStarts, expert, axis0), tf.math.minimum(rank, tf.math.sub(count, tf.constant(1))));
    Operand<TInt32> pairs = tf.gather(order, sortedPair, axis0); // [S], a pad reads its segment's last pair
    Operand<T> real = tf.dtypes.cast(tf.math.less(rank, count), flatGates.type()); // [S]
    Operand<T> gates = tf.math.mul(tf.gather(flatGates, pairs, axis0), real);

    // The segment row of each sorted pair: its sorted position plus the pads of the experts before it.
    Operand<TInt32> sortedExperts = tf.gather(flatIds, order, axis0); // [P]
    Operand<TInt32> padShift = tf.math.sub(starts, sortedStarts); // [M]
    Operand<TInt32> positions = tf.math.add(tf.range(tf.constant(0), tf.size(order), tf.constant(1)), tf.gather(padShift, sortedExperts, axis0));
    return new ExpertSegments<>(pairs, tf.math.floorDiv(pairs, tf.constant(k)), sizes, tf.gather(positions, pairPositions, axis0),
        gates, true);
  }

  /**
   * {@code segmented} [S, width] as one [size_e, width] part per expert. With pads the split runs on
   * the flattened rows: TensorFlow slices a matrix in place only when a whole row is aligned, a
   * vector wherever each part's start and end are, which the pads make them.
   */
  <U extends TType> List<Operand<U>> split(Ops tf, Operand<U> segmented, int width, int experts) {
    List<Operand<U>> parts = new ArrayList<>();
    if (!padded) {
      parts.addAll(tf.splitV(segmented, sizes, tf.constant(0), (long) experts).output());
      return parts;
    }
    Operand<TInt64> flatSizes = tf.math.mul(tf.dtypes.cast(sizes, TInt64.class), tf.constant((long) width));
    Operand<TInt32> rowsOfWidth = tf.constant(new int[] {-1, width});
    for (Output<U> flat : tf.splitV(tf.reshape(segmented, tf.constant(new int[] {-1})), flatSizes, tf.constant(0), (long) experts).output()) {
      parts.add(tf.reshape(flat, rowsOfWidth));
    }
    return parts;
  }
}
