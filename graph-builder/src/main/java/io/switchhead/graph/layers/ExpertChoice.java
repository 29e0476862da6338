package io.switchhead.graph.layers;

import io.switchhead.ops.moe.DynamicK;
import io.switchhead.ops.moe.ExpertSelection;
import io.switchhead.ops.moe.Selection;
import io.switchhead.ops.moe.SelectionConfig;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TFloating;

/**
 * A layer's expert selection in the layer's float type: ids and gates for the conditional matmul,
 * and the entropy of mean expert usage (logged; the sigma-MoE regulariser maximises it).
 *
 * @param ids [N, H*k]
 * @param gates [N, H*k], the raw sigmoid at ids
 * @param usageEntropy scalar, the mean over heads of H(mean over tokens of softmax(logits))
 */
record ExpertChoice<T extends TFloating>(Operand<TInt32> ids, Operand<T> gates, Operand<T> usageEntropy) {

  /**
   * Selects experts for x [N, D] with the selection matrix [H*E, D]. Logits are float32, or float64
   * when the layer runs in float64 (gradient checks); expert dropout acts in training only.
   *
   * @param site names this random site, so its dropout mask differs from every other's
   */
  static <T extends TFloating> ExpertChoice<T> select(Ops tf, LayerContext ctx, String site, Operand<T> x, Operand<T> selection,
      SelectionConfig config) {
    Class<T> type = x.type();
    boolean dropout = ctx.training() && config.expertDropout() > 0;
    Operand<TInt64> seed = dropout ? ctx.seedFor(site) : tf.constant(new long[] {0, 0});
    Class<? extends TFloating> precision = type == TFloat64.class ? TFloat64.class : TFloat32.class;
    Selection<? extends TFloating> s = ExpertSelection.select(tf, x, selection, config, ctx.mode(), seed, precision);
    Operand<T> gates = tf.dtypes.cast(s.gates(), type);
    Operand<T> entropy = tf.dtypes.cast(tf.math.neg(tf.math.mean(ExpertSelection.negativeEntropy(tf, s.logits()), tf.constant(0))), type);
    return new ExpertChoice<>(s.ids(), gates, entropy);
  }

  /**
   * The same choice with each token using only its K best experts per head (dynamic k, our design):
   * the slots past K keep their ids, so every dispatch runs unchanged, and get gate 0.
   *
   * @param kPerToken [N] in [1, k]
   */
  ExpertChoice<T> withK(Ops tf, Operand<TInt32> kPerToken, SelectionConfig config) {
    return new ExpertChoice<>(ids, DynamicK.maskSlots(tf, gates, kPerToken, config.heads(), config.k()), usageEntropy);
  }
}
