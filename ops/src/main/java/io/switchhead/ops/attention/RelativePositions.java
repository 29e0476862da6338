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
    return shift(tf, perDistance, tf.constant(new int[] {queries * (keys + 1)}), tf.constant(new int[] {queries - 1}),
        tf.constant(new int[] {queries * keys}), tf.constant(new int[] {queries, keys}));
  }

  /**
   * {@link #shiftedScores(Ops, Operand, Operand, int, int)} for sizes known only when the graph runs
   * (cached decoding: T new queries after M cached keys): the same shift, its sizes computed by ops.
   *
   * @param queries T, int32 scalar
   * @param memory M, int32 scalar
   */
  public static <T extends TFloating> Operand<T> shiftedScores(
      Ops tf, Operand<T> q, Operand<T> p, Operand<TInt32> queries, Operand<TInt32> memory) {
    Operand<TInt32> keys = tf.math.add(memory, queries);
    Operand<T> perDistance = tf.train.batchMatMul(q, tf.expandDims(p, tf.constant(0)), q.type(), BatchMatMul.adjY(true)); // [B, H, T, Tk]
    Operand<TInt32> one = tf.constant(1);
    return shift(tf, perDistance, vector(tf, tf.math.mul(queries, tf.math.add(keys, one))), vector(tf, tf.math.sub(queries, one)),
        vector(tf, tf.math.mul(queries, keys)), tf.stack(List.of(queries, keys)));
  }

  /**
   * Transformer-XL's shift of per-distance scores [B, H, T, Tk] to per-(query, key) ones. With one
   * zero column appended, rows of Tk + 1 laid end to end put query i's distance index
   * (j - M - i) + Tk - 1 at flat offset i * Tk + j + T - 1, so the shifted scores are one slice of
   * the flattened rows, rows Tk apart. Pad and Slice are contiguous copies whose gradients are each
   * other; a gather of every element, and its scatter-add gradient, cost five times as much. A key
   * after the query reads the zero column or the next row's score.
   *
   * @param rowsLength [T * (Tk + 1)]
   * @param start [T - 1]
   * @param shiftedLength [T * Tk]
   * @param queriesAndKeys [T, Tk]
   */
  private static <T extends TFloating> Operand<T> shift(Ops tf, Operand<T> perDistance, Operand<TInt32> rowsLength, Operand<TInt32> start,
      Operand<TInt32> shiftedLength, Operand<TInt32> queriesAndKeys) {
    Operand<TInt32> batchAndHeads = tf.slice(tf.shape(perDistance), tf.constant(new int[] {0}), tf.constant(new int[] {2}));
    Operand<TInt32> axis = tf.constant(0);
    Operand<T> padded = tf.pad(perDistance, tf.constant(new int[][] {{0, 0}, {0, 0}, {0, 0}, {0, 1}}), tf.dtypes.cast(tf.constant(0), perDistance.type())); // [B, H, T, Tk + 1]
    Operand<T> rows = tf.reshape(padded, tf.concat(List.of(batchAndHeads, rowsLength), axis));
    Operand<T> shifted = tf.slice(rows, tf.concat(List.of(tf.constant(new int[] {0, 0}), start), axis),
        tf.concat(List.of(tf.constant(new int[] {-1, -1}), shiftedLength), axis)); // [B, H, T*Tk]
    return tf.reshape(shifted, tf.concat(List.of(batchAndHeads, queriesAndKeys), axis));
  }

  private static Operand<TInt32> vector(Ops tf, Operand<TInt32> scalar) {
    return tf.expandDims(scalar, tf.constant(0));
  }
}
