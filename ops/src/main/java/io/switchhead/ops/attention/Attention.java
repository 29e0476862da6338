package io.switchhead.ops.attention;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.ops.gradients.GradientOverride;
import java.util.Arrays;
import java.util.List;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.ReduceSum;
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

  /** The masked softmax's gradient in {@link GradientOverride}. */
  static final String SOFTMAX_GRADIENT = "switchhead.MaskedSoftmax";

  /** The tagged node's inputs, in order. */
  private enum Input {
    PROBABILITIES, SCORES
  }

  static {
    GradientOverride.define(SOFTMAX_GRADIENT, Attention::maskedSoftmaxGradient);
  }

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
    return masked(tf, q, k, v, positionScores, visible(tf, queries(q), memory));
  }

  /**
   * softmax(q k^T + positionScores, where visible) v, for any mask; {@link #causal} and {@link
   * #slidingWindow} make the two the project uses.
   *
   * @param visible [T, Tk], true where query i may see key j
   */
  public static <T extends TFloating> Operand<T> masked(
      Ops tf, Operand<T> q, Operand<T> k, Operand<T> v, Operand<T> positionScores, Operand<TBool> visible) {
    return AttentionMatmul.of(tf, weights(tf, q, k, positionScores, visible), v, false); // [B, H, T, dv]
  }

  /**
   * The attention probabilities softmax(q k^T + positionScores, where visible) [B, H, T, Tk], 0
   * where a query cannot see a key: what {@link #masked} multiplies v by. They depend on queries
   * and keys only, so a layer can read them (dynamic-k routing) before its values exist.
   */
  public static <T extends TFloating> Operand<T> weights(
      Ops tf, Operand<T> q, Operand<T> k, Operand<T> positionScores, Operand<TBool> visible) {
    Operand<T> scores = AttentionMatmul.of(tf, q, k, true); // [B, H, T, Tk]
    if (positionScores != null) {
      scores = tf.math.add(scores, positionScores);
    }
    Operand<T> masked = tf.select(visible, scores, negativeInfinity(tf, q.type()));
    return GradientOverride.withGradient(tf, SOFTMAX_GRADIENT, "", tf.nn.softmax(masked), List.of(scores));
  }

  /**
   * d scores = p * (dp - sum(p * dp)) straight from the probabilities, past the mask: where a key is
   * hidden p is 0, so that is already 0 there. TensorFlow's own gradient of the select would zero it
   * again, with a ZerosLike and a select as wide as every head's scores (3-5% of a dense model's
   * backward on CPU: docs/benchmarks/compare.md, eighth pass).
   */
  @SuppressWarnings("unchecked")
  private static List<Operand<?>> maskedSoftmaxGradient(Ops tf, GraphOperation node, List<Output<?>> outputGradients, String config) {
    return softmaxGradient(tf.withSubScope("maskedSoftmaxGrad"), (Operand<TFloating>) (Operand<?>) outputGradients.get(Input.PROBABILITIES.ordinal()),
        (Operand<TFloating>) (Operand<?>) node.input(Input.PROBABILITIES.ordinal()));
  }

  private static <T extends TFloating> List<Operand<?>> softmaxGradient(Ops tf, Operand<T> dp, Operand<T> p) {
    Operand<T> dot = tf.reduceSum(tf.math.mul(dp, p), tf.constant(-1), ReduceSum.keepDims(true));
    return Arrays.asList(null, tf.math.mul(tf.math.sub(dp, dot), p));
  }

  /**
   * The mask of cached decoding, sizes known only when the graph runs: T new queries after M cached
   * keys, query i (at position M + i of the keys) sees key j when {@code M + i - window < j <= M + i},
   * that is itself and the {@code window - 1} keys before it, and when key j holds a token: it sits at
   * absolute position {@code position - M + j}, so the rows before absolute position 0 (the padding of
   * a cache not yet full) are seen by none. With {@code window} at least M + T and no padding this is
   * {@link #visible}'s causal mask.
   *
   * @param queries T, int32 scalar
   * @param memory M, int32 scalar
   * @param position int32 scalar, the absolute position of the first query
   * @return [T, M + T]
   */
  public static Operand<TBool> slidingWindow(Ops tf, Operand<TInt32> queries, Operand<TInt32> memory, Operand<TInt32> position,
      int window) {
    checkArgument(window >= 1, "the attention window (%s) must be >= 1", window);
    Operand<TInt32> i = tf.expandDims(tf.range(tf.constant(0), queries, tf.constant(1)), tf.constant(1)); // [T, 1]
    Operand<TInt32> j = tf.expandDims(tf.range(tf.constant(0), tf.math.add(memory, queries), tf.constant(1)), tf.constant(0)); // [1, M+T]
    Operand<TInt32> offset = tf.math.sub(tf.math.sub(j, memory), i); // key position - query position, [T, M+T]
    Operand<TBool> written = tf.math.greaterEqual(tf.math.add(j, position), memory); // [1, M+T]
    Operand<TBool> inWindow = tf.math.logicalAnd(tf.math.lessEqual(offset, tf.constant(0)), tf.math.greater(offset, tf.constant(-window)));
    return tf.math.logicalAnd(inWindow, written);
  }

  /**
   * [T, Tk] true where query i may see key j: j <= M + i. A constant: sizes are static, and no op
   * derived from a runtime shape sits between the parameters and the loss.
   */
  public static Operand<TBool> visible(Ops tf, int queries, int memory) {
    boolean[][] mask = new boolean[queries][queries + memory];
    for (int i = 0; i < queries; i++) {
      for (int j = 0; j <= memory + i; j++) {
        mask[i][j] = true;
      }
    }
    return tf.constant(mask);
  }

  /** T, which must be known when the graph is built. */
  private static int queries(Operand<?> q) {
    long t = q.shape().numDimensions() == 4 ? q.shape().get(2) : -1;
    checkArgument(t > 0, "attention needs the number of queries known at build time: q [B, H, T, dh] has shape %s", q.shape());
    return (int) t;
  }

  private static <T extends TFloating> Operand<T> negativeInfinity(Ops tf, Class<T> type) {
    return tf.dtypes.cast(tf.constant(Float.NEGATIVE_INFINITY), type);
  }
}
