package io.switchhead.graph.layers;

import io.switchhead.graph.config.Positional;
import io.switchhead.graph.params.Initializer;
import io.switchhead.graph.params.ParamScope;
import io.switchhead.ops.ShapeCheck;
import io.switchhead.ops.attention.RelativePositions;
import io.switchhead.ops.attention.Rope;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.family.TFloating;

/** Reshapes between [B, T, H*dh] and per-head [B, H, T, dh], and the XL position keys, shared by all attentions. */
final class Heads {

  private Heads() {}

  /** Queries and keys per head, each scaled by dh^-1/4 (the softmax's dh^-1/2 split between them). */
  record QueriesKeys<T extends TFloating>(Operand<T> q, Operand<T> k) {}

  /**
   * Checks the inputs, creates the dense projections {@code q} and {@code k} [D, H*dh] and applies
   * them: q [B, H, T, dh] from the queries [B, T, D], k [B, H, Tk, dh] from the keys/values [B, Tk, D].
   */
  static <T extends TFloating> QueriesKeys<T> queriesAndKeys(ParamScope p, Ops tf, AttentionInputs<T> in, int d,
      int heads, int headDim, double initScale) {
    Operand<T> xq = in.queries();
    Operand<T> xkv = in.keysValues();
    int steps = in.steps();
    int keys = in.keys();
    ShapeCheck.require(p.path(), "queries' input [B, T, D]", xq, ShapeCheck.ANY, steps, d);
    ShapeCheck.require(p.path(), "keys' input [B, M + T, D]", xkv, ShapeCheck.ANY, keys, d);
    QueriesKeys<T> w = projections(p, d, heads, headDim, initScale, xq.type());
    Operand<T> quarter = Layers.scalar(tf, Math.pow(headDim, -0.25), xq.type());
    Operand<T> q = tf.math.mul(split(tf, project(tf, xq, w.q(), steps), steps, heads, headDim), quarter); // [B, H, T, dh]
    Operand<T> k = tf.math.mul(split(tf, project(tf, xkv, w.k(), keys), keys, heads, headDim), quarter); // [B, H, Tk, dh]
    return new QueriesKeys<>(q, k);
  }

  /**
   * The same for cached decoding, where the new tokens' count is known only when the graph runs:
   * q and k [B, H, n, dh] of the new tokens x [B, n, D], rotated at their positions for RoPE (the
   * cache keeps keys as attention uses them).
   */
  static <T extends TFloating> QueriesKeys<T> queriesAndKeys(ParamScope p, Ops tf, DecodeSpan span, Operand<T> x, int d,
      int heads, int headDim, double initScale, Positional positional) {
    QueriesKeys<T> w = projections(p, d, heads, headDim, initScale, x.type());
    Operand<T> quarter = Layers.scalar(tf, Math.pow(headDim, -0.25), x.type());
    Operand<T> flat = span.flatten(tf, x, d); // [N, D]
    Operand<T> q = tf.math.mul(span.heads(tf, tf.linalg.matMul(flat, w.q()), heads, headDim), quarter);
    Operand<T> k = tf.math.mul(span.heads(tf, tf.linalg.matMul(flat, w.k()), heads, headDim), quarter);
    if (positional == Positional.ROPE) {
      Rope.Table<T> table = span.rope(tf, headDim, x.type());
      return new QueriesKeys<>(Rope.apply(tf, q, table), Rope.apply(tf, k, table));
    }
    return new QueriesKeys<>(q, k);
  }

  /** The parameters {@code q} and {@code k} [D, H*dh], in a {@link QueriesKeys} of weights. */
  private static <T extends TFloating> QueriesKeys<T> projections(ParamScope p, int d, int heads, int headDim, double initScale,
      Class<T> type) {
    Initializer fromModel = Initializer.normal(initScale / Math.sqrt(d));
    Operand<T> wq = p.param("q", Shape.of(d, (long) heads * headDim), type, fromModel);
    Operand<T> wk = p.param("k", Shape.of(d, (long) heads * headDim), type, fromModel);
    return new QueriesKeys<>(wq, wk);
  }

  /** [B, T, H*dh] -> [B, H, T, dh]. */
  static <T extends TFloating> Operand<T> split(Ops tf, Operand<T> x, int steps, int heads, int headDim) {
    Operand<T> shaped = tf.reshape(x, tf.constant(new int[] {-1, steps, heads, headDim})); // [B, T, H, dh]
    return tf.linalg.transpose(shaped, tf.constant(new int[] {0, 2, 1, 3})); // [B, H, T, dh]
  }

  /** [B, H, T, dh] -> [B, T, H*dh]. */
  static <T extends TFloating> Operand<T> merge(Ops tf, Operand<T> x, int steps, int heads, int headDim) {
    Operand<T> transposed = tf.linalg.transpose(x, tf.constant(new int[] {0, 2, 1, 3})); // [B, T, H, dh]
    return tf.reshape(transposed, tf.constant(new int[] {-1, steps, heads * headDim}));
  }

  /** x [B, T, D] times w [D, F] -> [B, T, F]. */
  static <T extends TFloating> Operand<T> project(Ops tf, Operand<T> x, Operand<T> w, int steps) {
    int d = (int) w.shape().get(0);
    int f = (int) w.shape().get(1);
    Operand<T> flat = tf.reshape(x, tf.constant(new int[] {-1, d}));
    return tf.reshape(tf.linalg.matMul(flat, w), tf.constant(new int[] {-1, steps, f}));
  }

  /**
   * XL position keys [H, Tk, dh]: sinusoids of distances -(Tk-1)..0, scaled by dh^-1/4 and projected
   * by the parameter {@code pos_to_pk} [D, H*dh] (initialised: one public version left it empty).
   */
  static <T extends TFloating> Operand<T> xlPositionKeys(
      ParamScope p, Ops tf, int d, int heads, int headDim, int keys, double initScale, Class<T> type) {
    return xlPositionKeys(p, tf, d, heads, headDim, RelativePositions.distances(tf, keys), initScale, type);
  }

  /** The same over given distances [Tk] (cached decoding, where Tk is known only when the graph runs). */
  static <T extends TFloating> Operand<T> xlPositionKeys(
      ParamScope p, Ops tf, int d, int heads, int headDim, Operand<TFloat32> distances, double initScale, Class<T> type) {
    Operand<T> projection = p.param("pos_to_pk", Shape.of(d, (long) heads * headDim), type, Initializer.normal(initScale / Math.sqrt(d)));
    Operand<T> sinusoids = tf.dtypes.cast(RelativePositions.sinusoids(tf, distances, d), type); // [Tk, D]
    Operand<T> scaled = tf.math.mul(sinusoids, Layers.scalar(tf, Math.pow(headDim, -0.25), type));
    Operand<T> projected = tf.reshape(tf.linalg.matMul(scaled, projection), tf.constant(new int[] {-1, heads, headDim}));
    return tf.linalg.transpose(projected, tf.constant(new int[] {1, 0, 2})); // [H, Tk, dh]
  }
}
