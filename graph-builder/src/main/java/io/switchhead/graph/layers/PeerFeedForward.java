package io.switchhead.graph.layers;

import io.switchhead.graph.config.ModelDims;
import io.switchhead.graph.config.PeerConfig;
import io.switchhead.graph.params.Initializer;
import io.switchhead.graph.params.ParamScope;
import io.switchhead.ops.Dropout;
import io.switchhead.ops.moe.ProductKeys;
import io.switchhead.ops.moe.SelectionConfig;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Split;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The PEER feed-forward (Mixture of A Million Experts; SEEDS-MOE.md "PEER"): per token,
 * {@code y = sum over heads and the k retrieved experts i of g_i * act(u_i . x) v_i}.
 *
 * <ol>
 *   <li>Queries {@code Q = BN(x W_q)} [S, h*dk]: BatchNorm over the tokens per feature, with a learnt
 *       scale and bias. Training normalises with the batch's statistics and asks the training step to
 *       move the moving ones toward them ({@link ParamScope#trackBuffer}); evaluation, decoding and
 *       the export normalise with the moving statistics, so a token's output does not depend on the
 *       other tokens there. (In training it does: batch statistics see the whole batch, future
 *       tokens included, as in the paper.)
 *   <li>Each head's query splits into halves that retrieve the exact top-k of the N product keys
 *       ({@link ProductKeys}); the sub-key tables are shared by the heads, as in the paper.
 *   <li>Gates: softmax over each head's k scores.
 *   <li>Experts are single neurons, rows of {@code u} and {@code v} [N, D], shared by the heads. The
 *       layer reads them only by rows ({@link ParamScope#rows}), so a training step differentiates
 *       the rows read and updates just those (lazy AdamW; docs/design/peer.md).
 * </ol>
 *
 * <p>Parameters: {@code query} [D, h*dk], {@code bn_scale}, {@code bn_bias} [h*dk], {@code keys1},
 * {@code keys2} [sqrt N, dk/2], {@code u}, {@code v} [N, D]. Buffers (not parameters, never
 * differentiated): {@code bn_mean}, {@code bn_variance} [h*dk].
 *
 * <p>Memory: the gathered rows are [S, h*k, D] per table, {@code 4 * S * h * k * D} bytes in float32
 * for the whole batch at once, not chunked (peer-1m-tiny, 2048 tokens of h 4, k 8, D 128: 32 MiB
 * each, as much again for their gradient); the tables are {@code 4 * N * D} bytes (512 MiB each at
 * N = 1024^2, D = 128).
 *
 * <p>Shapes: S tokens (B*T), D width, N experts, h heads, dk key width, k experts per head.
 */
public final class PeerFeedForward {

  /**
   * @param output [B, T, D]
   * @param usage the retrieval as logs see it: entropy of the normalised summed gates over the N
   *     experts (log N when even; unevenness = log N - entropy), ids offset by head (head*N + i)
   * @param usageShare the share of the N experts with a nonzero summed gate in this batch, scalar
   */
  public record Output<T extends TFloating>(Operand<T> output, ExpertUsage usage, Operand<T> usageShare) {}

  /** The buffers' names under the layer's scope. */
  public static final String MOVING_MEAN = "bn_mean";

  public static final String MOVING_VARIANCE = "bn_variance";

  private PeerFeedForward() {}

  /** @param x [B, T, D], normalised */
  public static <T extends TFloating> Output<T> apply(PeerConfig c, ModelDims dims, ParamScope p, LayerContext ctx, Operand<T> x) {
    Ops tf = p.ops();
    int d = dims.dModel();
    double initScale = dims.initScale();
    int steps = Layers.steps(x);
    Class<T> type = x.type();
    int h = c.heads();
    int dk = c.keyDim();
    int n = c.subKeys();
    int k = c.k();
    Operand<T> wq = p.param("query", Shape.of(d, h * dk), type, Initializer.normal(1 / Math.sqrt(d)));
    Operand<T> scale = p.param("bn_scale", Shape.of(h * dk), type, Initializer.ones());
    Operand<T> bias = p.param("bn_bias", Shape.of(h * dk), type, Initializer.zeros());
    // Unit-variance half scores for the unit-variance (normalised) queries.
    Operand<T> keys1 = p.param("keys1", Shape.of(n, dk / 2), type, Initializer.normal(1 / Math.sqrt(dk / 2.0)));
    Operand<T> keys2 = p.param("keys2", Shape.of(n, dk / 2), type, Initializer.normal(1 / Math.sqrt(dk / 2.0)));

    Operand<T> flat = tf.reshape(x, tf.constant(new int[] {-1, d})); // [S, D]
    Operand<T> queries = normalise(c, p, ctx, tf.linalg.matMul(flat, wq), scale, bias); // [S, h*dk]
    Split<T> halves = tf.split(tf.constant(1), tf.reshape(queries, tf.constant(new int[] {-1, dk})), 2L); // 2 x [S*h, dk/2]
    ProductKeys.Retrieval<T> chosen = ProductKeys.topK(tf, halves.output().get(0), halves.output().get(1), keys1, keys2, k);
    Operand<TInt32> ids = tf.reshape(chosen.ids(), tf.constant(new int[] {-1, h * k})); // [S, h*k] in [0, N)
    Operand<T> gates = tf.reshape(tf.nn.softmax(chosen.scores()), tf.constant(new int[] {-1, h * k})); // [S, h*k]

    // The tables are read only here, by rows: a training step updates just the rows read (lazy AdamW).
    Operand<T> uRows = p.rows("u", Shape.of(c.experts(), d), type, Initializer.normal(initScale / Math.sqrt(d)), ids); // [S, h*k, D]
    // Batched matmuls, not a product and a sum: no [S, h*k, D] temporary beside the rows, forward or back.
    Operand<T> pre = tf.reshape(tf.train.batchMatMul(uRows, tf.expandDims(flat, tf.constant(2)), type),
        tf.constant(new int[] {-1, h * k})); // [S, h*k]
    Operand<T> weighted = tf.math.mul(activation(tf, c.activation(), pre), gates); // [S, h*k]
    if (ctx.training()) {
      weighted = Dropout.apply(tf, weighted, dims.dropout(), ctx.seedFor(p.path() + "/hidden_dropout"));
    }
    // The gates of a head sum to 1, so the output sums h neurons' worth of v rows.
    Operand<T> vRows = p.rows("v", Shape.of(c.experts(), d), type, Initializer.normal(initScale / Math.sqrt(h)), ids); // [S, h*k, D]
    Operand<T> y = tf.reshape(tf.train.batchMatMul(tf.expandDims(weighted, tf.constant(1)), vRows, type),
        tf.constant(new int[] {-1, d})); // [S, D]
    Usage<T> usage = usage(tf, c, ids, gates);
    ExpertUsage expertUsage = new ExpertUsage(p.path() + "/keys", usage.entropy(), usage.headIds(), SelectionConfig.of(h, c.experts(), k));
    return new Output<>(tf.reshape(y, tf.constant(new int[] {-1, steps, d})), expertUsage, usage.share());
  }

  /** BatchNorm of the queries q [S, F] per feature: the batch's statistics in training, the moving ones otherwise. */
  private static <T extends TFloating> Operand<T> normalise(PeerConfig c, ParamScope p, LayerContext ctx, Operand<T> q,
      Operand<T> scale, Operand<T> bias) {
    Ops tf = p.ops();
    Class<T> type = q.type();
    Shape features = Shape.of(q.shape().get(1));
    Operand<T> mean;
    Operand<T> variance;
    if (ctx.training()) {
      mean = tf.math.mean(q, tf.constant(0)); // [F]
      variance = tf.math.mean(tf.math.square(tf.math.sub(q, mean)), tf.constant(0)); // [F], biased, as Keras
      double rate = 1 - c.batchNormMomentum();
      p.trackBuffer(MOVING_MEAN, features, Initializer.zeros(), tf.stopGradient(mean), rate);
      p.trackBuffer(MOVING_VARIANCE, features, Initializer.ones(), tf.stopGradient(variance), rate);
    } else {
      mean = p.buffer(MOVING_MEAN, features, type, Initializer.zeros());
      variance = p.buffer(MOVING_VARIANCE, features, type, Initializer.ones());
    }
    Operand<T> inverse = tf.math.rsqrt(tf.math.add(variance, Layers.scalar(tf, c.batchNormEpsilon(), type)));
    return tf.math.add(tf.math.mul(tf.math.mul(tf.math.sub(q, mean), inverse), scale), bias);
  }

  private static <T extends TFloating> Operand<T> activation(Ops tf, PeerConfig.Activation a, Operand<T> x) {
    return switch (a) {
      case RELU -> tf.nn.relu(x);
      // 0.5 x (1 + erf(x / sqrt 2)), the exact GELU; Erf has a C++ gradient.
      case GELU -> tf.math.mul(tf.math.mul(x, Layers.scalar(tf, 0.5, x.type())),
          tf.math.add(Layers.scalar(tf, 1, x.type()), tf.math.erf(tf.math.mul(x, Layers.scalar(tf, Math.sqrt(0.5), x.type())))));
    };
  }

  private record Usage<T extends TFloating>(Operand<T> entropy, Operand<T> share, Operand<TInt32> headIds) {}

  /**
   * SEEDS-MOE.md's usage metrics over this batch: z = the gates summed per expert over tokens and
   * heads, normalised; entropy -sum z log z (0 log 0 = 0); share of experts with z > 0.
   */
  private static <T extends TFloating> Usage<T> usage(Ops tf, PeerConfig c, Operand<TInt32> ids, Operand<T> gates) {
    Ops us = tf.withSubScope("usage");
    Class<T> type = gates.type();
    Operand<T> g = us.stopGradient(gates);
    Operand<T> summed = us.math.unsortedSegmentSum(us.reshape(g, us.constant(new int[] {-1})), us.reshape(ids, us.constant(new int[] {-1})),
        us.constant(c.experts())); // [N]
    Operand<T> z = us.math.div(summed, us.reduceSum(summed, us.constant(0)));
    Operand<T> zero = Layers.scalar(us, 0, type);
    Operand<TBool> used = us.math.greater(z, zero);
    Operand<T> zLogZ = us.select(used, us.math.mul(z, us.math.log(us.select(used, z, us.onesLike(z)))), us.zerosLike(z));
    Operand<T> entropy = us.math.neg(us.reduceSum(zLogZ, us.constant(0)));
    Operand<T> share = us.math.div(us.reduceSum(us.dtypes.cast(used, type), us.constant(0)), Layers.scalar(us, c.experts(), type));
    // ExpertUsage's convention: slot s of a token belongs to head s / k, its id offset by head*N.
    int[][] offsets = new int[1][c.heads() * c.k()];
    for (int s = 0; s < offsets[0].length; s++) {
      offsets[0][s] = (s / c.k()) * c.experts();
    }
    return new Usage<>(entropy, share, us.math.add(ids, us.constant(offsets)));
  }
}
