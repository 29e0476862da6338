package io.switchhead.ops.attention;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.train.BatchMatMul;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * Causal softmax attention over a chunk and an optional memory before it.
 *
 * <p>Shapes: B batch, H heads, T queries (the current chunk), M memory length, Tk = M + T keys, dh
 * head width. Query i sits at absolute position M + i and sees keys 0 .. M + i: the memory fully,
 * the chunk causally. The softmax scale is the caller's (SwitchHead folds dh^-1/4 into q and k).
 */
public final class Attention {

  private Attention() {}

  /**
   * softmax(q k^T + positionScores, masked) v.
   *
   * @param q [B, H, T, dh]
   * @param k [B, H, Tk, dh]
   * @param v [B, H, Tk, dv]
   * @param positionScores [B, H, T, Tk] added to the content scores, or null
   * @param memory M, the number of keys before the chunk
   * @return [B, H, T, dv]
   */
  public static <T extends TFloating> Operand<T> causal(
      Ops tf, Operand<T> q, Operand<T> k, Operand<T> v, Operand<T> positionScores, int memory) {
    Operand<T> scores = tf.train.batchMatMul(q, k, q.type(), BatchMatMul.adjY(true)); // [B, H, T, Tk]
    if (positionScores != null) {
      scores = tf.math.add(scores, positionScores);
    }
    Operand<T> masked = tf.select(visible(tf, tf.shape(q), memory), scores, negativeInfinity(tf, q.type()));
    Operand<T> weights = tf.nn.softmax(masked);
    return tf.train.batchMatMul(weights, v, q.type()); // [B, H, T, dv]
  }

  /** [T, Tk] true where query i may see key j: j <= M + i. */
  static Operand<TBool> visible(Ops tf, Operand<TInt32> qShape, int memory) {
    Operand<TInt32> t = tf.gather(qShape, tf.constant(2), tf.constant(0));
    Operand<TInt32> queries = tf.expandDims(tf.range(tf.constant(0), t, tf.constant(1)), tf.constant(1)); // [T, 1]
    Operand<TInt32> keys =
        tf.expandDims(tf.range(tf.constant(0), tf.math.add(t, tf.constant(memory)), tf.constant(1)), tf.constant(0)); // [1, Tk]
    return tf.math.lessEqual(keys, tf.math.add(queries, tf.constant(memory)));
  }

  private static <T extends TFloating> Operand<T> negativeInfinity(Ops tf, Class<T> type) {
    return tf.dtypes.cast(tf.constant(Float.NEGATIVE_INFINITY), type);
  }
}
