package io.switchhead.graph.layers;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.graph.config.ModelDims;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.params.Initializer;
import io.switchhead.graph.params.ParamScope;
import io.switchhead.ops.Dropout;
import io.switchhead.ops.Relu;
import io.switchhead.ops.moe.ConditionalMatmul;
import io.switchhead.ops.moe.DynamicK;
import io.switchhead.ops.moe.SelectionConfig;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The sigma-MoE feed-forward of SwitchAll (SWITCHHEAD.md section 3): {@code y = sum over the top-k
 * experts e of s_e * ReLU(x K_e) V_e} with {@code s = sigmoid(x sel^T)}, no biases. Parameters:
 * {@code sel} [E, D] (rows renormalised), {@code keys} [E, D, G], {@code values} [E, G, D]. Both
 * matmuls go through the context's conditional matmul, so only chosen experts compute. The block's
 * dropout acts on the expert hidden ReLU(x K_e) only when the config's {@code hiddenDropout} asks:
 * the paper's layer has none there.
 *
 * <p>Shapes: N = B*T tokens, D width, E experts, G expert size, k chosen.
 */
public final class SigmaMoeFeedForward {

  /** The output [B, T, D], the weighted entropy regulariser (a loss term) and the usage entropy. */
  public record Output<T extends TFloating>(Operand<T> output, Operand<T> entropyLoss, ExpertUsage usage) {}

  private SigmaMoeFeedForward() {}

  /** @param x [B, T, D], normalised; the config's k must be fixed */
  public static <T extends TFloating> Output<T> apply(SigmaMoeConfig c, ModelDims dims, ParamScope p, LayerContext ctx, Operand<T> x) {
    checkArgument(!c.kRule().dynamic(), "%s: a dynamic kRule (%s) needs the block's token importance", p.path(), c.kRule());
    return apply(c, dims, p, ctx, x, null);
  }

  /**
   * @param x [B, T, D], normalised
   * @param importance [B, T], the tokens' importance from the block's attention when the config's
   *     k is dynamic (our design: each token then uses its best K of the k experts); else null
   */
  public static <T extends TFloating> Output<T> apply(SigmaMoeConfig c, ModelDims dims, ParamScope p, LayerContext ctx, Operand<T> x,
      Operand<T> importance) {
    checkArgument(c.kRule().dynamic() == (importance != null), "%s: importance must be given exactly when kRule (%s) is dynamic",
        p.path(), c.kRule());
    Ops tf = p.ops();
    int d = dims.dModel();
    double initScale = dims.initScale();
    int steps = Layers.steps(x);
    Class<T> type = x.type();
    int e = c.experts();
    int g = c.expertSize();
    Operand<T> sel = p.param("sel", Shape.of(e, d), type, Initializer.rowRenormalized(Initializer.normal(initScale / Math.sqrt(d))));
    Operand<T> keys = p.param("keys", Shape.of(e, d, g), type, Initializer.normal(initScale / Math.sqrt(d)));
    Operand<T> values = p.param("values", Shape.of(e, g, d), type, Initializer.normal(initScale / Math.sqrt((double) e * g)));

    Operand<T> flat = tf.reshape(x, tf.constant(new int[] {-1, d})); // [N, D]
    SelectionConfig selection = new SelectionConfig(1, e, c.k(), c.expertDropout());
    ExpertChoice<T> s = ExpertChoice.select(tf, ctx, p.path() + "/sel", flat, sel, selection);
    Operand<TInt32> kPerToken = null; // [tokens], null with fixed k
    ConditionalMatmul first = ctx.dispatch();
    ConditionalMatmul second = ctx.dispatch();
    if (importance != null) {
      kPerToken = TokenImportance.perToken(tf, importance, c.kRule(), c.k()); // [N]
      s = s.withK(tf, kPerToken, selection);
      Operand<TBool> active = DynamicK.activeSlots(tf, kPerToken, 1, c.k()); // [N, k]
      first = DynamicDispatch.of(ctx, active);
      second = DynamicDispatch.of(ctx, tf.reshape(active, tf.constant(new int[] {-1, 1}))); // [N*k, 1]
    }
    // The gate multiplies after the second matmul; ReLU sees the ungated x K_e.
    Operand<T> ones = tf.onesLike(s.gates());
    Operand<T> hidden = Relu.apply(tf, first.slotOutputs(tf, flat, keys, s.ids(), ones)); // [N, k, G]
    if (ctx.training() && c.hiddenDropout()) {
      hidden = Dropout.apply(tf, hidden, dims.dropout(), ctx.seedFor(p.path() + "/hidden_dropout"));
    }
    Operand<T> perSlot = tf.reshape(hidden, tf.constant(new int[] {-1, g})); // [N*k, G]
    Operand<TInt32> slotIds = tf.reshape(s.ids(), tf.constant(new int[] {-1, 1})); // [N*k, 1]
    Operand<T> slotGates = tf.reshape(s.gates(), tf.constant(new int[] {-1, 1})); // [N*k, 1]
    Operand<T> out = second.apply(tf, perSlot, values, slotIds, slotGates); // [N*k, D]
    Operand<T> summed = tf.reduceSum(tf.reshape(out, tf.constant(new int[] {-1, c.k(), d})), tf.constant(1)); // [N, D]
    Operand<T> loss = tf.math.mul(s.usageEntropy(), Layers.scalar(tf, -c.entropyWeight(), type));
    return new Output<>(tf.reshape(summed, tf.constant(new int[] {-1, steps, d})), loss,
        new ExpertUsage(p.path() + "/sel", s.usageEntropy(), s.ids(), selection, kPerToken));
  }
}
