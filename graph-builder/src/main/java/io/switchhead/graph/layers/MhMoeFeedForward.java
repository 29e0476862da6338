package io.switchhead.graph.layers;

import io.switchhead.graph.config.MhMoeConfig;
import io.switchhead.graph.config.ModelDims;
import io.switchhead.graph.params.Initializer;
import io.switchhead.graph.params.ParamScope;
import io.switchhead.ops.Dropout;
import io.switchhead.ops.moe.CapacityConditionalMatmul;
import io.switchhead.ops.moe.ConditionalMatmul;
import io.switchhead.ops.moe.SelectionConfig;
import io.switchhead.ops.moe.SoftmaxRouting;
import java.util.List;
import java.util.Optional;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The MH-MoE feed-forward (SEEDS-MOE.md steps 1-7; arXiv:2404.15045):
 * <ol>
 *   <li>X' = X W_head + b_head;
 *   <li>split: sub-token j of token i is X'[i, j*D/h .. (j+1)*D/h), stored at row i*h + j;
 *   <li>P = softmax(X'' W_g^T) in float32, top-k, gates renormalised when k > 1;
 *   <li>in training, each expert takes C = ceil(f * k * ceil(S*h / E)) sub-tokens in row order, the rest
 *       are dropped (zero output);
 *   <li>SwiGLU experts fc2(fc1(x) * silu(fc3(x))), no biases;
 *   <li>the gated expert outputs joined back into [S, D], then X W_merge + b_merge;
 *   <li>load-balance loss E * sum_e mean_s(P[s, e]) * f_e, weighted (f_e: top-1 share of e).
 * </ol>
 * The block adds the residual. Parameters, in x-times-W layout: {@code head_w} [D, D], {@code head_b}
 * [D], {@code sel} (the router W_g) [E, D/h], {@code fc1}, {@code fc3} [E, D/h, G], {@code fc2} [E, G, D/h],
 * {@code merge_w} [D, D], {@code merge_b} [D].
 *
 * <p>Evaluation is dropless (our rule, not the paper's): with a capacity a token's output would
 * depend on the other tokens of the call, so cached decoding, which sees one token at a time, could
 * not equal the full forward pass. Training keeps the paper's capacity; evaluation and decoding use
 * the context's dispatch, which computes every choice. In training the slots fill in the flattened
 * batch's row order, so whether a sub-token is dropped depends only on the rows before it: no later
 * position of its own sequence can take its slot, and training stays causal.
 *
 * <p>Shapes: S = B*T tokens, D width, h heads, w = D/h, E experts, G expert size, k chosen.
 */
public final class MhMoeFeedForward {

  /** The output [B, T, D], the weighted load-balance loss, and the router's usage. */
  public record Output<T extends TFloating>(Operand<T> output, Operand<T> balanceLoss, ExpertUsage usage) {}

  private MhMoeFeedForward() {}

  /** @param x [B, T, D], normalised */
  public static <T extends TFloating> Output<T> apply(MhMoeConfig c, ModelDims dims, ParamScope p, LayerContext ctx, Operand<T> x) {
    Ops tf = p.ops();
    int d = dims.dModel();
    int h = c.heads();
    int w = c.subTokenWidth(d);
    int e = c.experts();
    int g = c.expertSize();
    int k = c.k();
    double initScale = dims.initScale();
    int steps = Layers.steps(x);
    Class<T> type = x.type();
    // Xavier-uniform limits gain * sqrt(6 / (D + D)): gain 1/sqrt(2) for the head, 1 for the merge (the spec's).
    Operand<T> headW = p.param("head_w", Shape.of(d, d), type, Initializer.uniform(Math.sqrt(3.0 / d) / Math.sqrt(2)));
    Operand<T> headB = p.param("head_b", Shape.of(d), type, Initializer.zeros());
    // Router and experts: normal(initScale / sqrt(fan-in)) like the project's other layers; the spec names no init for them.
    Operand<T> router = p.param("sel", Shape.of(e, w), type, Initializer.normal(initScale / Math.sqrt(w)));
    Operand<T> fc1 = p.param("fc1", Shape.of(e, w, g), type, Initializer.normal(initScale / Math.sqrt(w)));
    Operand<T> fc3 = p.param("fc3", Shape.of(e, w, g), type, Initializer.normal(initScale / Math.sqrt(w)));
    Operand<T> fc2 = p.param("fc2", Shape.of(e, g, w), type, Initializer.normal(initScale / Math.sqrt(g)));
    Operand<T> mergeW = p.param("merge_w", Shape.of(d, d), type, Initializer.uniform(Math.sqrt(3.0 / d)));
    Operand<T> mergeB = p.param("merge_b", Shape.of(d), type, Initializer.zeros());

    Operand<T> flat = tf.reshape(x, tf.constant(new int[] {-1, d})); // [S, D]
    Operand<T> projected = tf.math.add(tf.linalg.matMul(flat, headW), headB); // [S, D]
    Operand<T> sub = split(tf, projected, h); // [S*h, w]

    Class<? extends TFloating> precision = type == TFloat64.class ? TFloat64.class : TFloat32.class;
    SoftmaxRouting.Routed<? extends TFloating> routed = SoftmaxRouting.route(tf, sub, router, k, precision);
    Operand<TInt32> ids = routed.ids(); // [S*h, k]
    Operand<T> gates = tf.dtypes.cast(routed.gates(), type); // [S*h, k]

    Optional<CapacityConditionalMatmul> capacity = ctx.training() ? Optional.of(capacityOf(c, x)) : Optional.empty();
    ConditionalMatmul mm = capacity.isPresent() ? capacity.get() : ctx.dispatch();
    // fc1 and fc3 side by side in one conditional matmul, ungated: the gate multiplies the expert's
    // output, as in the spec. A capacity drops the same choices in both matmuls (the same ids in the
    // same row order and the same C).
    Operand<T> ones = tf.onesLike(gates);
    Operand<T> fc13 = tf.concat(List.of(fc1, fc3), tf.constant(2)); // [E, w, 2G]
    List<org.tensorflow.Output<T>> halves = tf.split(tf.constant(2), mm.slotOutputs(tf, sub, fc13, ids, ones), 2L).output();
    Operand<T> a = halves.get(0); // [S*h, k, G] fc1(x)
    Operand<T> b = halves.get(1); // [S*h, k, G] fc3(x)
    Operand<T> hidden = tf.math.mul(a, tf.math.mul(b, tf.math.sigmoid(b))); // fc1(x) * silu(fc3(x))
    if (ctx.training() && c.hiddenDropout()) {
      hidden = Dropout.apply(tf, hidden, dims.dropout(), ctx.seedFor(p.path() + "/hidden_dropout"));
    }
    Operand<T> perSlot = tf.reshape(hidden, tf.constant(new int[] {-1, g})); // [S*h*k, G]
    Operand<TInt32> slotIds = tf.reshape(ids, tf.constant(new int[] {-1, 1})); // [S*h*k, 1]
    Operand<T> slotGates = tf.reshape(gates, tf.constant(new int[] {-1, 1})); // [S*h*k, 1]
    Operand<T> out = mm.apply(tf, perSlot, fc2, slotIds, slotGates); // [S*h*k, w]
    Operand<T> summed = tf.reduceSum(tf.reshape(out, tf.constant(new int[] {-1, k, w})), tf.constant(1)); // [S*h, w]
    Operand<T> merged = tf.math.add(tf.linalg.matMul(merge(tf, summed, d), mergeW), mergeB); // [S, D]

    Operand<T> loss = tf.math.mul(tf.dtypes.cast(SoftmaxRouting.balanceLoss(tf, routed), type), Layers.scalar(tf, c.balanceWeight(), type));
    Optional<Operand<? extends TFloating>> dropped = capacity.map(cap -> {
      Operand<TFloat32> count = tf.dtypes.cast(cap.droppedPairs(tf, ids, e), TFloat32.class);
      return tf.math.div(count, tf.constant((float) ids.shape().size()));
    });
    ExpertUsage usage = new ExpertUsage(p.path() + "/sel", tf.dtypes.cast(SoftmaxRouting.usageEntropy(tf, routed), type),
        usageIds(tf, ids, h, e, k), SelectionConfig.of(h, e, k), dropped);
    return new Output<>(tf.reshape(merged, tf.constant(new int[] {-1, steps, d})), loss, usage);
  }

  /**
   * The choices as the usage counters and the routing inspection read a selection, one row per token
   * with sub-token j as head j: [S, h*k], id = j*E + e. The h sub-tokens share the E experts; the
   * offset only says which sub-token chose.
   */
  private static Operand<TInt32> usageIds(Ops tf, Operand<TInt32> ids, int h, int e, int k) {
    int[][] offsets = new int[1][h * k];
    for (int slot = 0; slot < h * k; slot++) {
      offsets[0][slot] = slot / k * e;
    }
    return tf.math.add(tf.reshape(ids, tf.constant(new int[] {-1, h * k})), tf.constant(offsets)); // [S, h*k]
  }

  /** [S, D] to [S*h, D/h]: sub-token j of token i (columns j*D/h ..) at row i*h + j, a row-major reshape. */
  static <T extends TFloating> Operand<T> split(Ops tf, Operand<T> tokens, int heads) {
    int d = (int) tokens.shape().get(1);
    return tf.reshape(tokens, tf.constant(new int[] {-1, d / heads}));
  }

  /** The inverse of {@link #split}: [S*h, D/h] to [S, D]. */
  static <T extends TFloating> Operand<T> merge(Ops tf, Operand<T> subTokens, int d) {
    return tf.reshape(subTokens, tf.constant(new int[] {-1, d}));
  }

  /** The training capacity for the S = B*T tokens of x, which must be static in a training graph. */
  private static CapacityConditionalMatmul capacityOf(MhMoeConfig c, Operand<?> x) {
    Shape s = x.shape();
    if (s.hasUnknownDimension()) {
      throw new IllegalArgumentException("mh-moe: a training input needs a static shape [B, T, D] for its capacity, got " + s);
    }
    return CapacityConditionalMatmul.withCapacity(c.capacity(Math.toIntExact(s.get(0) * s.get(1))));
  }
}
