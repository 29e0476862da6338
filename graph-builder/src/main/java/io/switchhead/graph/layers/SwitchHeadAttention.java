package io.switchhead.graph.layers;

import com.google.common.collect.ImmutableList;
import io.switchhead.graph.config.ModelDims;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.params.Initializer;
import io.switchhead.graph.params.ParamScope;
import io.switchhead.ops.attention.Attention;
import io.switchhead.ops.attention.AttentionMatmul;
import io.switchhead.ops.attention.RelativePositions;
import io.switchhead.ops.attention.Rope;
import io.switchhead.ops.moe.ConditionalMatmul;
import io.switchhead.ops.moe.DynamicK;
import io.switchhead.ops.moe.SelectionConfig;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * SwitchHead attention (SWITCHHEAD.md sections 1-2): dense Q and K, value and output projections that
 * are mixtures of experts chosen per token and head by sigmoid gates and top-k, computed by the
 * context's conditional matmul ({@link LayerContext}: segmented in the plain graph, block-padded or spill with static shapes).
 *
 * <p>Parameters, in the authors' names (no biases): {@code q, k} [D, H*dh]; {@code v} [H*E, D, dh];
 * {@code o} [H*E, dh, D]; {@code sel_v, sel_o} [H*E, D] (rows renormalised); XL adds {@code
 * pos_to_pk} [D, H*dh]. With E = 1, V and O are dense and {@code sel_o} is a per-head output gate.
 *
 * <p>Shapes: B batch, T chunk, M memory, Tk = M + T, D width, H heads, E experts per head, k chosen,
 * dh head width, N = B*T query tokens, Nk = B*Tk key tokens.
 */
public final class SwitchHeadAttention {

  /**
   * The layer's output [B, T, D], the expert-usage entropy of each selection, and the token
   * importance of its attention (read by the block's dynamic-k feed-forward; computes nothing
   * unless asked).
   */
  public record Output<T extends TFloating>(Operand<T> output, ImmutableList<ExpertUsage> usage, TokenImportance<T> importance) {}

  /** The expert parameters; {@code selV} is null with one expert per head. */
  private record Experts<T extends TFloating>(Operand<T> wv, Operand<T> wo, Operand<T> selO, Operand<T> selV) {}

  private SwitchHeadAttention() {}

  /** @param in queries [B, T, D] (also the output selection's input), keys/values [B, Tk, D] (also the value selection's) */
  public static <T extends TFloating> Output<T> apply(SwitchHeadConfig c, ModelDims dims, ParamScope p, LayerContext ctx,
      AttentionInputs<T> in) {
    Ops tf = p.ops();
    Operand<T> xq = in.queries();
    Operand<T> xkv = in.keysValues();
    int d = dims.dModel();
    int h = c.heads();
    int dh = c.headDim();
    int steps = in.steps();
    int memory = in.memory();
    int keys = in.keys();
    checkPositional(c);
    Heads.QueriesKeys<T> qk = Heads.queriesAndKeys(p, tf, in, d, h, dh, dims.initScale());
    Operand<T> q = qk.q(); // [B, H, T, dh]
    Operand<T> k = qk.k(); // [B, H, Tk, dh]
    Experts<T> w = experts(c, dims, p, xq.type());
    ImmutableList.Builder<ExpertUsage> usage = ImmutableList.builder();

    // The probabilities depend on queries and keys only: computed before the values, so a
    // dynamic-k value selection can read the importance they give each token.
    Operand<TBool> visible = Attention.visible(tf, steps, memory); // [T, Tk]
    Operand<T> weights; // [B, H, T, Tk]
    if (c.positional() == Positional.ROPE) {
      weights = Attention.weights(tf, Rope.apply(tf, q, dh, tf.constant(memory)), Rope.apply(tf, k, dh, tf.constant(0)), null, visible);
    } else {
      Operand<T> positionKeys = Heads.xlPositionKeys(p, tf, d, h, dh, keys, dims.initScale(), xq.type()); // [H, Tk, dh]
      weights = Attention.weights(tf, q, k, RelativePositions.shiftedScores(tf, q, positionKeys, steps, memory), visible);
    }
    TokenImportance<T> importance = new TokenImportance<>(tf, weights, visible);
    boolean dynamic = c.kRule().dynamic();

    Operand<T> values = values(c, p, ctx, w, tf.reshape(xkv, tf.constant(new int[] {-1, d})), usage,
        dynamic ? importance.keys() : null); // [Nk, H, dh]
    Operand<T> v = tf.linalg.transpose(tf.reshape(values, tf.constant(new int[] {-1, keys, h, dh})), tf.constant(new int[] {0, 2, 1, 3})); // [B, H, Tk, dh]
    Operand<T> attended = AttentionMatmul.of(tf, weights, v, false); // [B, H, T, dh]
    Operand<T> perHead = tf.reshape(tf.linalg.transpose(attended, tf.constant(new int[] {0, 2, 1, 3})), tf.constant(new int[] {-1, dh})); // [N*H, dh]
    Operand<T> output = output(c, d, p, ctx, w, perHead, tf.reshape(xq, tf.constant(new int[] {-1, d})), usage,
        dynamic ? importance.queries() : null); // [N, D]
    return new Output<>(tf.reshape(output, tf.constant(new int[] {-1, steps, d})), usage.build(), importance); // [B, T, D]
  }

  /**
   * One cached decoding call: the new tokens' queries, keys and values, their keys and values
   * appended to the cache's, attention over the window. The same parameters and the same
   * arithmetic per token as {@link #apply}; only the sizes are tensors.
   *
   * <p>Dynamic k (our design): a new token's K comes from the importance that this call's queries
   * give it over the window; cached tokens keep the values computed with their K of their own call.
   * A prompt decoded in one call from an empty cache therefore equals the full forward pass; token
   * by token, a token's importance is only what it receives from itself (the later queries that
   * the full pass would count have not arrived), so the two differ.
   *
   * @param x the new tokens [B, n, D], normalised
   * @param cache the keys and values of the L tokens before them, [B, H, L, dh]
   */
  public static <T extends TFloating> Decoded<T> decode(SwitchHeadConfig c, ModelDims dims, ParamScope p, LayerContext ctx,
      Operand<T> x, KeyValues<T> cache, DecodeSpan span) {
    return decodeWithImportance(c, dims, p, ctx, x, cache, span).decoded();
  }

  /** {@link #decode}, with the importance this call's queries give the window's tokens (for a dynamic-k feed-forward). */
  static <T extends TFloating> DecodedWithImportance<T> decodeWithImportance(SwitchHeadConfig c, ModelDims dims, ParamScope p,
      LayerContext ctx, Operand<T> x, KeyValues<T> cache, DecodeSpan span) {
    Ops tf = p.ops();
    int d = dims.dModel();
    int h = c.heads();
    int dh = c.headDim();
    checkPositional(c);
    Heads.QueriesKeys<T> qk = Heads.queriesAndKeys(p, tf, span, x, d, h, dh, dims.initScale(), c.positional()); // RoPE-rotated
    Experts<T> w = experts(c, dims, p, x.type());
    ImmutableList.Builder<ExpertUsage> unused = ImmutableList.builder();
    Operand<T> flat = span.flatten(tf, x, d); // [N, D]

    Operand<T> q = qk.q(); // [B, H, n, dh]
    Operand<T> positionScores = null;
    // The keys first (as DecodeSpan.append joins them), so the probabilities exist before the values.
    Operand<T> allKeys = tf.concat(List.of(cache.keys(), qk.k()), tf.constant(2)); // [B, H, L+n, dh]
    if (c.positional() == Positional.XL) {
      Operand<T> positionKeys = Heads.xlPositionKeys(p, tf, d, h, dh, RelativePositions.distances(tf, span.keys()), dims.initScale(), x.type());
      positionScores = RelativePositions.shiftedScores(tf, q, positionKeys, span.steps(), span.cached());
    }
    Operand<T> weights = Attention.weights(tf, q, allKeys, positionScores, span.visible()); // [B, H, n, L+n]
    TokenImportance<T> importance = new TokenImportance<>(tf, weights, span.visible());
    boolean dynamic = c.kRule().dynamic();
    Operand<T> vNew = span.heads(tf, values(c, p, ctx, w, flat, unused, dynamic ? importance.queries() : null), h, dh); // [B, H, n, dh]
    KeyValues<T> all = new KeyValues<>(allKeys, tf.concat(List.of(cache.values(), vNew), tf.constant(2))); // [B, H, L+n, dh]
    Operand<T> attended = AttentionMatmul.of(tf, weights, all.values(), false); // [B, H, n, dh]
    Operand<T> output = output(c, d, p, ctx, w, span.perHead(tf, attended, dh), flat, unused,
        dynamic ? importance.queries() : null); // [N, D]
    return new DecodedWithImportance<>(new Decoded<>(span.unflatten(tf, output, d), all), importance);
  }

  private static void checkPositional(SwitchHeadConfig c) {
    if (c.positional() == Positional.ROPE) {
      Rope.checkHeadDim(c.headDim());
    }
  }

  private static <T extends TFloating> Experts<T> experts(SwitchHeadConfig c, ModelDims dims, ParamScope p, Class<T> type) {
    int d = dims.dModel();
    int h = c.heads();
    int e = c.experts();
    int dh = c.headDim();
    Initializer fromModel = Initializer.normal(dims.initScale() / Math.sqrt(d));
    Operand<T> wv = p.param("v", Shape.of((long) h * e, d, dh), type, fromModel);
    Operand<T> wo = p.param("o", Shape.of((long) h * e, dh, d), type, Initializer.normal(dims.initScale() / Math.sqrt((double) h * dh)));
    Initializer selection = Initializer.rowRenormalized(fromModel);
    Operand<T> selO = p.param("sel_o", Shape.of((long) h * e, d), type, selection);
    Operand<T> selV = e > 1 ? p.param("sel_v", Shape.of((long) h * e, d), type, selection) : null;
    return new Experts<>(wv, wo, selO, selV);
  }

  /** Values per head, the gate-weighted sum of its k chosen experts: [Nk, D] -> [Nk, H, dh]. */
  /** @param importance the key tokens' importance [B, Tk] for dynamic k, else null */
  private static <T extends TFloating> Operand<T> values(SwitchHeadConfig c, ParamScope p, LayerContext ctx, Experts<T> w,
      Operand<T> xkvFlat, ImmutableList.Builder<ExpertUsage> usage, Operand<T> importance) {
    Ops tf = p.ops();
    int h = c.heads();
    int dh = c.headDim();
    int d = (int) w.wv().shape().get(1);
    if (c.experts() == 1) {
      Operand<T> dense = tf.reshape(tf.linalg.transpose(w.wv(), tf.constant(new int[] {1, 0, 2})), tf.constant(new int[] {d, h * dh}));
      return tf.reshape(tf.linalg.matMul(xkvFlat, dense), tf.constant(new int[] {-1, h, dh}));
    }
    ExpertChoice<T> sv = ExpertChoice.select(tf, ctx, p.path() + "/sel_v", xkvFlat, w.selV(), selection(c));
    Operand<TInt32> kPerToken = null; // [tokens], null with fixed k
    ConditionalMatmul dispatch = ctx.dispatch();
    if (importance != null) {
      kPerToken = TokenImportance.perToken(tf, importance, c.kRule(), c.k()); // [Nk]
      sv = sv.withK(tf, kPerToken, selection(c));
      dispatch = DynamicDispatch.of(ctx, DynamicK.activeSlots(tf, kPerToken, h, c.k())); // [Nk, H*k]
    }
    usage.add(new ExpertUsage(p.path() + "/sel_v", sv.usageEntropy(), sv.ids(), selection(c), kPerToken));
    Operand<T> slots = dispatch.slotOutputs(tf, xkvFlat, w.wv(), sv.ids(), sv.gates()); // [Nk, H*k, dh]
    return tf.reduceSum(tf.reshape(slots, tf.constant(new int[] {-1, h, c.k(), dh})), tf.constant(2)); // [Nk, H, dh]
  }

  /**
   * The output: one weighted sum over all H*k (head, expert) slots, [N*H, dh] -> [N, D]; the
   * selection reads xq [N, D].
   *
   * @param importance the query tokens' importance [B, T] for dynamic k, else null
   */
  private static <T extends TFloating> Operand<T> output(SwitchHeadConfig c, int d, ParamScope p, LayerContext ctx, Experts<T> w,
      Operand<T> perHead, Operand<T> xqFlat, ImmutableList.Builder<ExpertUsage> usage, Operand<T> importance) {
    Ops tf = p.ops();
    int h = c.heads();
    int dh = c.headDim();
    ExpertChoice<T> so = ExpertChoice.select(tf, ctx, p.path() + "/sel_o", xqFlat, w.selO(), selection(c));
    if (c.experts() == 1) {
      // Dense output projection per head, scaled by the head's sigmoid output gate.
      Operand<T> byHead = tf.linalg.transpose(tf.reshape(perHead, tf.constant(new int[] {-1, h, dh})), tf.constant(new int[] {1, 0, 2})); // [H, N, dh]
      Operand<T> gate = tf.expandDims(tf.linalg.transpose(so.gates(), tf.constant(new int[] {1, 0})), tf.constant(2)); // [H, N, 1]
      return tf.reduceSum(tf.math.mul(tf.train.batchMatMul(byHead, w.wo(), perHead.type()), gate), tf.constant(0));
    }
    Operand<TInt32> kPerToken = null; // [tokens], null with fixed k
    ConditionalMatmul dispatch = ctx.dispatch();
    if (importance != null) {
      kPerToken = TokenImportance.perToken(tf, importance, c.kRule(), c.k()); // [N]
      so = so.withK(tf, kPerToken, selection(c));
      Operand<TBool> active = DynamicK.activeSlots(tf, kPerToken, h, c.k()); // [N, H*k]
      dispatch = DynamicDispatch.of(ctx, tf.reshape(active, tf.constant(new int[] {-1, c.k()}))); // [N*H, k]
    }
    usage.add(new ExpertUsage(p.path() + "/sel_o", so.usageEntropy(), so.ids(), selection(c), kPerToken));
    Operand<TInt32> ids = tf.reshape(so.ids(), tf.constant(new int[] {-1, c.k()})); // [N*H, k], already offset by head
    Operand<T> gates = tf.reshape(so.gates(), tf.constant(new int[] {-1, c.k()})); // [N*H, k]
    Operand<T> projected = dispatch.apply(tf, perHead, w.wo(), ids, gates); // [N*H, D]
    return tf.reduceSum(tf.reshape(projected, tf.constant(new int[] {-1, h, d})), tf.constant(1));
  }

  private static SelectionConfig selection(SwitchHeadConfig c) {
    return new SelectionConfig(c.heads(), c.experts(), c.k(), c.expertDropout());
  }

}
