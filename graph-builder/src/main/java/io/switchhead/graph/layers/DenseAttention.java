package io.switchhead.graph.layers;

import io.switchhead.graph.config.DenseAttentionConfig;
import io.switchhead.graph.config.ModelDims;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.params.Initializer;
import io.switchhead.graph.params.ParamScope;
import io.switchhead.ops.attention.Attention;
import io.switchhead.ops.attention.AttentionMatmul;
import io.switchhead.ops.attention.RelativePositions;
import io.switchhead.ops.attention.Rope;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.family.TFloating;

/**
 * Dense multi-head attention, the baseline of the paper's comparisons. Parameters (no biases):
 * {@code q, k, v} [D, H*dh], {@code o} [H*dh, D]; with XL also {@code pos_to_pk} [D, H*dh] and
 * Transformer-XL's content and position biases {@code u_bias, v_bias} [H, dh]. The softmax scale
 * dh^-1/2 is split as dh^-1/4 on q and on k, as in SwitchHead, so both compute the same way.
 *
 * <p>Shapes: B batch, T chunk, M memory (XL), Tk = M + T, D model width, H heads, dh head width.
 */
public final class DenseAttention {

  private DenseAttention() {}

  /** The layer's output and the token importance of its attention (for a block's dynamic-k feed-forward). */
  public record Output<T extends TFloating>(Operand<T> output, TokenImportance<T> importance) {}

  /**
   * @param in queries [B, T, D], keys and values [B, Tk, D] (memory then chunk), both normalised
   * @return [B, T, D]
   */
  public static <T extends TFloating> Operand<T> apply(DenseAttentionConfig c, ModelDims dims, ParamScope p, LayerContext ctx,
      AttentionInputs<T> in) {
    return applyWithImportance(c, dims, p, ctx, in).output();
  }

  /** {@link #apply}, with the importance its attention gives each token (computed only if asked). */
  public static <T extends TFloating> Output<T> applyWithImportance(DenseAttentionConfig c, ModelDims dims, ParamScope p, LayerContext ctx,
      AttentionInputs<T> in) {
    Ops tf = p.ops();
    int d = dims.dModel();
    double initScale = dims.initScale();
    int h = c.heads();
    int dh = c.headDim();
    int steps = in.steps();
    int memory = in.memory();
    int keys = in.keys();
    Operand<T> xkv = in.keysValues();
    Class<T> type = xkv.type();
    Heads.QueriesKeys<T> qk = Heads.queriesAndKeys(p, tf, in, d, h, dh, initScale);
    Operand<T> q = qk.q(); // [B, H, T, dh]
    Operand<T> k = qk.k(); // [B, H, Tk, dh]
    Operand<T> wv = p.param("v", Shape.of(d, (long) h * dh), type, Initializer.normal(initScale / Math.sqrt(d)));
    Operand<T> wo = p.param("o", Shape.of((long) h * dh, d), type, Initializer.normal(initScale / Math.sqrt((double) h * dh)));
    Operand<T> v = Heads.split(tf, Heads.project(tf, xkv, wv, keys), keys, h, dh); // [B, H, Tk, dh]

    Operand<TBool> visible = Attention.visible(tf, steps, memory); // [T, Tk]
    Operand<T> weights; // [B, H, T, Tk]
    if (c.positional() == Positional.ROPE) {
      Operand<T> qr = Rope.apply(tf, q, dh, tf.constant(memory));
      Operand<T> kr = Rope.apply(tf, k, dh, tf.constant(0));
      weights = Attention.weights(tf, qr, kr, null, visible);
    } else {
      Operand<T> u = tf.reshape(p.param("u_bias", Shape.of(h, dh), type, Initializer.zeros()), tf.constant(new int[] {1, h, 1, dh}));
      Operand<T> vBias = tf.reshape(p.param("v_bias", Shape.of(h, dh), type, Initializer.zeros()), tf.constant(new int[] {1, h, 1, dh}));
      Operand<T> positionKeys = Heads.xlPositionKeys(p, tf, d, h, dh, keys, initScale, type); // [H, Tk, dh]
      Operand<T> positionScores = RelativePositions.shiftedScores(tf, tf.math.add(q, vBias), positionKeys, steps, memory);
      weights = Attention.weights(tf, tf.math.add(q, u), k, positionScores, visible);
    }
    Operand<T> attended = AttentionMatmul.of(tf, weights, v, false); // [B, H, T, dh]
    Operand<T> merged = Heads.merge(tf, attended, steps, h, dh); // [B, T, H*dh]
    return new Output<>(Heads.project(tf, merged, wo, steps), new TokenImportance<>(tf, weights, visible));
  }

  /**
   * One cached decoding call (see {@link SwitchHeadAttention#decode}): the same parameters and the
   * same arithmetic per token as {@link #apply}, sizes as tensors.
   *
   * @param x the new tokens [B, n, D], normalised
   * @param cache the keys and values of the L tokens before them, [B, H, L, dh]
   */
  public static <T extends TFloating> Decoded<T> decode(DenseAttentionConfig c, ModelDims dims, ParamScope p, LayerContext ctx,
      Operand<T> x, KeyValues<T> cache, DecodeSpan span) {
    return decodeWithImportance(c, dims, p, ctx, x, cache, span).decoded();
  }

  /** {@link #decode}, with the importance this call's queries give the window's tokens. */
  static <T extends TFloating> DecodedWithImportance<T> decodeWithImportance(DenseAttentionConfig c, ModelDims dims,
      ParamScope p, LayerContext ctx, Operand<T> x, KeyValues<T> cache, DecodeSpan span) {
    Ops tf = p.ops();
    int d = dims.dModel();
    double initScale = dims.initScale();
    int h = c.heads();
    int dh = c.headDim();
    Class<T> type = x.type();
    Heads.QueriesKeys<T> qk = Heads.queriesAndKeys(p, tf, span, x, d, h, dh, initScale, c.positional()); // RoPE-rotated
    Operand<T> wv = p.param("v", Shape.of(d, (long) h * dh), type, Initializer.normal(initScale / Math.sqrt(d)));
    Operand<T> wo = p.param("o", Shape.of((long) h * dh, d), type, Initializer.normal(initScale / Math.sqrt((double) h * dh)));
    Operand<T> flat = span.flatten(tf, x, d); // [N, D]
    Operand<T> vNew = span.heads(tf, tf.linalg.matMul(flat, wv), h, dh); // [B, H, n, dh]
    Operand<T> q = qk.q(); // [B, H, n, dh]
    KeyValues<T> all = span.append(tf, cache, qk.k(), vNew); // [B, H, L+n, dh]
    Operand<T> weights; // [B, H, n, L+n]
    if (c.positional() == Positional.ROPE) {
      weights = Attention.weights(tf, q, all.keys(), null, span.visible());
    } else {
      Operand<T> u = tf.reshape(p.param("u_bias", Shape.of(h, dh), type, Initializer.zeros()), tf.constant(new int[] {1, h, 1, dh}));
      Operand<T> vBias = tf.reshape(p.param("v_bias", Shape.of(h, dh), type, Initializer.zeros()), tf.constant(new int[] {1, h, 1, dh}));
      Operand<T> positionKeys = Heads.xlPositionKeys(p, tf, d, h, dh, RelativePositions.distances(tf, span.keys()), initScale, type);
      Operand<T> positionScores = RelativePositions.shiftedScores(tf, tf.math.add(q, vBias), positionKeys, span.steps(), span.cached());
      weights = Attention.weights(tf, tf.math.add(q, u), all.keys(), positionScores, span.visible());
    }
    Operand<T> attended = AttentionMatmul.of(tf, weights, all.values(), false); // [B, H, n, dh]
    Operand<T> merged = tf.reshape(span.perHead(tf, attended, dh), tf.constant(new int[] {-1, h * dh})); // [N, H*dh]
    return new DecodedWithImportance<>(new Decoded<>(span.unflatten(tf, tf.linalg.matMul(merged, wo), d), all),
        new TokenImportance<>(tf, weights, span.visible()));
  }
}
