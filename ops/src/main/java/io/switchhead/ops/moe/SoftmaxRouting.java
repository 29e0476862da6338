package io.switchhead.ops.moe;

import static com.google.common.base.Preconditions.checkArgument;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.ReduceSum;
import org.tensorflow.op.core.Squeeze;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.op.nn.TopK;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * Softmax top-k routing, GShard style (MH-MoE, SEEDS-MOE.md step 3), beside the sigmoid routing of
 * {@link ExpertSelection}: P = softmax(x W_g^T) over the E experts, the top-k experts by P (no
 * gradient through the choice), gates = P at the chosen experts, renormalised to sum 1 when k > 1.
 * Also the load-balance loss of step 7.
 *
 * <p>Glossary: N rows (tokens, or MH-MoE's sub-tokens), D their width, E experts, k chosen. N may be
 * known only at run time (a server's batch): nothing here reshapes with it.
 */
public final class SoftmaxRouting {

  private static final String WHERE = "softmax routing";

  /**
   * @param ids [N, k] chosen experts in [0, E), by falling P
   * @param gates [N, k] P at ids, renormalised over the k when k > 1
   * @param probabilities [N, E] P
   */
  public record Routed<U extends TFloating>(Operand<TInt32> ids, Operand<U> gates, Operand<U> probabilities) {}

  private SoftmaxRouting() {}

  /**
   * Routes the rows of x.
   *
   * @param x [N, D]
   * @param router W_g [E, D], no bias
   * @param precision float32 (the paper's router precision whatever x's type), or float64 for
   *     float64 gradient checks
   */
  public static <U extends TFloating> Routed<U> route(Ops tf, Operand<? extends TFloating> x, Operand<? extends TFloating> router, int k,
      Class<U> precision) {
    checkArgument(precision == TFloat32.class || precision == TFloat64.class, "%s: precision must be TFloat32 or TFloat64, got %s", WHERE,
        precision.getSimpleName());
    long[] xs = MatmulShapes.dimsAnyRows(WHERE, "x [N, D]", x, 2);
    checkArgument(router.shape().numDimensions() == 2 && router.shape().get(1) == xs[1] && router.shape().get(0) >= 1,
        "%s: router W_g must have shape [E, D = %s], got %s", WHERE, xs[1], router.shape());
    int e = Math.toIntExact(router.shape().get(0));
    checkArgument(k >= 1 && k <= e, "%s: k (%s) must be in [1, E = %s]", WHERE, k, e);
    Ops rt = tf.withSubScope("softmaxRouting");
    Operand<U> logits = rt.linalg.matMul(rt.dtypes.cast(x, precision), rt.dtypes.cast(router, precision), MatMul.transposeB(true)); // [N, E]
    Operand<U> p = rt.nn.softmax(logits); // [N, E]
    // Top-k of the logits: the order of P, without the ties that float softmax makes of large logits.
    Operand<TInt32> ids = rt.nn.topK(rt.stopGradient(logits), rt.constant(k), new TopK.Options[0]).indices(); // [N, k]
    // P at the chosen experts through a one-hot mask, which needs no static N (a gather at n*E + e would).
    Operand<U> oneHot = rt.oneHot(ids, rt.constant(e), rt.dtypes.cast(rt.constant(1), precision), rt.dtypes.cast(rt.constant(0), precision)); // [N, k, E]
    Operand<U> gates = rt.reduceSum(rt.math.mul(oneHot, rt.expandDims(p, rt.constant(1))), rt.constant(-1)); // [N, k]
    if (k > 1) {
      gates = rt.math.div(gates, rt.reduceSum(gates, rt.constant(-1), ReduceSum.keepDims(true)));
    }
    return new Routed<>(ids, gates, p);
  }

  /**
   * The load-balance loss of SEEDS-MOE.md step 7 (Switch Transformer's): E * sum_e mean_n(P[n, e]) * f_e,
   * f_e the fraction of rows whose top-1 expert is e. It is 1 for a perfectly even routing and
   * grows to E when every row picks one expert; its gradient reaches the router through P only.
   *
   * @param r a routing of {@link #route}
   * @return a scalar in the routing's precision (unweighted)
   */
  public static <U extends TFloating> Operand<U> balanceLoss(Ops tf, Routed<U> r) {
    Ops bl = tf.withSubScope("balanceLoss");
    long e = r.probabilities().shape().get(1);
    Class<U> type = r.probabilities().type();
    Operand<TInt32> top1 = bl.squeeze(bl.slice(r.ids(), bl.constant(new int[] {0, 0}), bl.constant(new int[] {-1, 1})), Squeeze.axis(List.of(1L))); // [N]
    Operand<U> f = bl.stopGradient(bl.math.mean(
        bl.oneHot(top1, bl.constant((int) e), bl.dtypes.cast(bl.constant(1), type), bl.dtypes.cast(bl.constant(0), type)), bl.constant(0))); // [E]
    Operand<U> meanP = bl.math.mean(r.probabilities(), bl.constant(0)); // [E]
    return bl.math.mul(bl.dtypes.cast(bl.constant((double) e), type), bl.reduceSum(bl.math.mul(meanP, f), bl.constant(0)));
  }

  /**
   * The entropy (nats) of the mean routing distribution, H(mean_n P): log E when the rows spread
   * evenly over the experts. Logged like the sigmoid routers' usage entropy; no loss uses it.
   */
  public static <U extends TFloating> Operand<U> usageEntropy(Ops tf, Routed<U> r) {
    Ops en = tf.withSubScope("usageEntropy");
    Operand<U> meanP = en.math.mean(r.probabilities(), en.constant(0)); // [E]
    // A mean that underflowed to 0 adds 0 * log(tiny) = 0, not 0 * log(0) = NaN.
    Operand<U> floor = en.dtypes.cast(en.constant(1e-30), meanP.type());
    return en.math.neg(en.reduceSum(en.math.mul(meanP, en.math.log(en.math.maximum(meanP, floor))), en.constant(0)));
  }
}
