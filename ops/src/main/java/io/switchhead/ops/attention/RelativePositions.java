package io.switchhead.ops.attention;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.train.BatchMatMul;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * Transformer-XL relative positions (SWITCHHEAD.md section 2, XL variant): sinusoids of the relative
 * position (key position - query position) and the "shift" that turns per-distance scores into
 * per-(query, key) scores.
 */
public final class RelativePositions {

  private RelativePositions() {}

  /**
   * The relative positions a chunk with memory needs, oldest first: -(Tk - 1) .. 0, so that index l
   * holds distance l - (Tk - 1). Distances above 0 are masked by causality and never needed.
   */
  public static Operand<TFloat32> distances(Ops tf, int keys) {
    return tf.dtypes.cast(tf.range(tf.constant(1 - keys), tf.constant(1), tf.constant(1)), TFloat32.class);
  }

  /** {@link #distances(Ops, int)} for a number of keys known only when the graph runs (cached decoding). */
  public static Operand<TFloat32> distances(Ops tf, Operand<TInt32> keys) {
    return tf.dtypes.cast(tf.range(tf.math.sub(tf.constant(1), keys), tf.constant(1), tf.constant(1)), TFloat32.class);
  }

  /**
   * Sinusoids [L, d]: sin on even channels, cos on odd, frequencies 10000^(-2i/d).
   *
   * @param positions [L]
   */
  public static Operand<TFloat32> sinusoids(Ops tf, Operand<TFloat32> positions, int d) {
    float[] invFreq = new float[d / 2];
    for (int i = 0; i < invFreq.length; i++) {
      invFreq[i] = (float) Math.pow(10000, -2.0 * i / d);
    }
    Operand<TFloat32> angles =
        tf.math.mul(tf.expandDims(positions, tf.constant(1)), tf.expandDims(tf.constant(invFreq), tf.constant(0))); // [L, d/2]
    // Interleave: stack on a new last axis then flatten, so channel 2i is sin and 2i+1 is cos.
    Operand<TFloat32> both = tf.stack(java.util.List.of(tf.math.sin(angles), tf.math.cos(angles)), org.tensorflow.op.core.Stack.axis(2L)); // [L, d/2, 2]
    return tf.reshape(both, tf.stack(java.util.List.of(tf.gather(tf.shape(positions), tf.constant(0), tf.constant(0)), tf.constant(d))));
  }

  /**
   * Scores of queries against relative-position keys, shifted to (query, key) pairs:
   * out[b, h, i, j] = q[b, h, i] . p[h, (j - M - i) + Tk - 1].
   *
   * @param q [B, H, T, dh]
   * @param p [H, Tk, dh]: position keys for distances -(Tk - 1) .. 0 (see {@link #distances})
   * @param memory M; Tk = M + T
   * @return [B, H, T, Tk]; entries of keys after the query (masked later) hold other finite values
   */
  public static <T extends TFloating> Operand<T> shiftedScores(Ops tf, Operand<T> q, Operand<T> p, int queries, int memory) {
    int keys = memory + queries;
    Operand<T> perDistance; // [B, H, T, Tk]
    if (q.shape().hasUnknownDimension()) {
      perDistance = tf.train.batchMatMul(q, tf.expandDims(p, tf.constant(0)), q.type(), BatchMatMul.adjY(true));
    } else {
      // p broadcast over the batch (a copy the size of the keys) lets the scores be the V2 matmul
      // oneDNN runs (AttentionMatmul); broadcasting's gradient sums the copies back. The shape is
      // int32: BroadcastTo's C++ gradient compares it with an int32 shape and fails on int64.
      long[] qs = q.shape().asArray();
      Operand<T> everyRow = tf.broadcastTo(tf.expandDims(p, tf.constant(0)),
          tf.constant(new int[] {(int) qs[0], (int) qs[1], keys, (int) qs[3]}));
      perDistance = AttentionMatmul.of(tf, q, everyRow, true);
    }
    // Transformer-XL's shift: with one zero column appended, rows of Tk + 1 laid end to end put query
    // i's distance index (j - M - i) + Tk - 1 at flat offset i * Tk + j + T - 1, so the shifted
    // scores are one slice of the flattened rows, rows Tk apart. Pad and Slice are contiguous copies
    // whose gradients are each other; a gather of every element, and its scatter-add gradient, cost
    // five times as much. A key after the query reads the zero column or the next row's score.
    Operand<TInt32> batchAndHeads = tf.slice(tf.shape(perDistance), tf.constant(new int[] {0}), tf.constant(new int[] {2}));
    Operand<T> padded = tf.pad(perDistance, tf.constant(new int[][] {{0, 0}, {0, 0}, {0, 0}, {0, 1}}), tf.dtypes.cast(tf.constant(0), perDistance.type())); // [B, H, T, Tk + 1]
    Operand<T> rows = tf.reshape(padded, tf.concat(List.of(batchAndHeads, tf.constant(new int[] {queries * (keys + 1)})), tf.constant(0)));
    Operand<T> shifted = tf.slice(rows, tf.constant(new int[] {0, 0, queries - 1}),
        tf.concat(List.of(tf.constant(new int[] {-1, -1}), tf.constant(new int[] {queries * keys})), tf.constant(0))); // [B, H, T*Tk]
    return tf.reshape(shifted, tf.concat(List.of(batchAndHeads, tf.constant(new int[] {queries, keys})), tf.constant(0)));
  }

  /**
   * {@link #shiftedScores(Ops, Operand, Operand, int, int)} for sizes known only when the graph runs
   * (cached decoding: T new queries after M cached keys). The same index, built by ops.
   *
   * @param queries T, int32 scalar
   * @param memory M, int32 scalar
   */
  public static <T extends TFloating> Operand<T> shiftedScores(
      Ops tf, Operand<T> q, Operand<T> p, Operand<TInt32> queries, Operand<TInt32> memory) {
    Operand<TInt32> keys = tf.math.add(memory, queries);
    Operand<T> perDistance = tf.train.batchMatMul(q, tf.expandDims(p, tf.constant(0)), q.type(), BatchMatMul.adjY(true)); // [B, H, T, Tk]
    Operand<TInt32> i = tf.expandDims(tf.range(tf.constant(0), queries, tf.constant(1)), tf.constant(1)); // [T, 1]
    Operand<TInt32> j = tf.expandDims(tf.range(tf.constant(0), keys, tf.constant(1)), tf.constant(0)); // [1, Tk]
    Operand<TInt32> last = tf.math.sub(keys, tf.constant(1));
    // j - M - i + Tk - 1 = j - i + T - 1, capped at Tk - 1 like the static index.
    Operand<TInt32> distanceIndex = tf.math.minimum(tf.math.add(tf.math.sub(j, i), tf.math.sub(queries, tf.constant(1))), last);
    Operand<TInt32> index = tf.math.add(tf.math.mul(i, keys), distanceIndex); // [T, Tk]
    Operand<TInt32> shape = tf.shape(perDistance);
    Operand<T> flat = tf.reshape(perDistance, tf.concat(java.util.List.of(
        tf.slice(shape, tf.constant(new int[] {0}), tf.constant(new int[] {2})), tf.constant(new int[] {-1})), tf.constant(0))); // [B, H, T*Tk]
    return tf.gather(flat, index, tf.constant(2)); // [B, H, T, Tk]
  }
}
