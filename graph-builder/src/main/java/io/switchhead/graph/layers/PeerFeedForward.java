package io.switchhead.graph.layers;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.graph.config.ModelDims;
import io.switchhead.graph.config.PeerConfig;
import io.switchhead.graph.params.Initializer;
import io.switchhead.graph.params.ParamScope;
import io.switchhead.graph.params.RowTable;
import io.switchhead.ops.Dropout;
import io.switchhead.ops.Relu;
import io.switchhead.ops.moe.MoeTuning;
import io.switchhead.ops.moe.ProductKeys;
import io.switchhead.ops.moe.SelectionConfig;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Split;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;
import org.tensorflow.types.family.TType;

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
 *       layer reads them only by rows ({@link ParamScope#table}), so a training step differentiates
 *       the rows read and updates just those (lazy AdamW; docs/design/peer.md).
 * </ol>
 *
 * <p>Parameters: {@code query} [D, h*dk], {@code bn_scale}, {@code bn_bias} [h*dk], {@code keys1},
 * {@code keys2} [sqrt N, dk/2], {@code u}, {@code v} [N, D]. Buffers (not parameters, never
 * differentiated): {@code bn_mean}, {@code bn_variance} [h*dk].
 *
 * <p>Memory: the tokens run in chunks ({@link MoeTuning#PEER_GATHERED_ROWS_MAX_BYTES} of gathered
 * rows per table each, the last chunk ragged), one after the other: a chunk retrieves its product
 * keys, gathers its rows of {@code u} and {@code v} [S_c, h*k, D] and sums them before the next
 * chunk starts, so its sub-key scores [S_c*h, sqrt N] and (outside training) its rows are freed
 * before the next chunk's exist. The tables stay read by rows, one piece per chunk, so their
 * gradient stays the rows read. In training the backward needs every chunk's rows (the gradients of
 * {@code u_i . x} and of the v sum read them) and the lazy update every row's gradient, so those
 * stay the whole batch's, {@code 4 * S * h * k * D} bytes per table in float32 (peer-1m-tiny, 2048
 * tokens of h 4, k 8, D 128: 32 MiB each, as much again for their gradient); what chunking bounds
 * there is the retrieval's temporaries. A batch of unknown size (the SavedModel's signatures,
 * decoding) is one chunk. The tables are {@code 4 * N * D} bytes (512 MiB each at N = 1024^2, D = 128).
 * Measured (2026-12-01, 2-core Xeon, TensorFlow's step statistics, peer-1m-tiny): the evaluation
 * forward's working memory falls from 69 to 20 MiB at batch 16 and from 272 to 37-41 MiB at batch 64;
 * a training step's stays (187 to 197 MiB at 16, 768-806 to 757-765 at 64), and so does the training
 * run's peak RSS, 8.0-8.8 GB either way (docs/design/peer.md).
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
    return apply(c, dims, p, ctx, x, MoeTuning.PEER_GATHERED_ROWS_MAX_BYTES);
  }

  /** As {@link #apply}, with chunks of at most {@code maxChunkBytes} of gathered rows per table (tests take small ones). */
  static <T extends TFloating> Output<T> apply(PeerConfig c, ModelDims dims, ParamScope p, LayerContext ctx, Operand<T> x,
      long maxChunkBytes) {
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
    // The tables are read only by rows, chunk by chunk: a training step updates just the rows read (lazy AdamW).
    Tables<T> tables = new Tables<>(p.table("u", Shape.of(c.experts(), d), type, Initializer.normal(initScale / Math.sqrt(d))),
        // The gates of a head sum to 1, so the output sums h neurons' worth of v rows.
        p.table("v", Shape.of(c.experts(), d), type, Initializer.normal(initScale / Math.sqrt(h))), keys1, keys2);
    Operand<T> keep = null; // [S, h*k]: the hidden dropout's mask drawn for the whole batch, so chunking leaves it as it was
    if (ctx.training() && dims.dropout() > 0) {
      Operand<TInt32> maskShape = tf.concat(List.of(tf.slice(tf.shape(flat), tf.constant(new int[] {0}), tf.constant(new int[] {1})),
          tf.constant(new int[] {h * k})), tf.constant(0));
      keep = Dropout.apply(tf, tf.fill(maskShape, Layers.scalar(tf, 1, type)), dims.dropout(), ctx.seedFor(p.path() + "/hidden_dropout"));
    }
    List<Integer> sizes = chunkSizes(c, x.shape(), type == TFloat64.class ? Double.BYTES : Float.BYTES, maxChunkBytes);
    List<Operand<T>> xs = split(tf, flat, sizes);
    List<Operand<T>> qs = split(tf, queries, sizes);
    List<Operand<T>> keeps = keep == null ? null : split(tf, keep, sizes);
    List<Chunk<T>> chunks = new ArrayList<>();
    for (int i = 0; i < sizes.size(); i++) {
      Operand<T> q = qs.get(i);
      if (i > 0) {
        // One chunk at a time: the next chunk's retrieval waits for this one's output, so its
        // temporaries are freed before the next chunk's exist (TensorFlow runs what is ready).
        q = tf.withControlDependencies(List.of(chunks.get(i - 1).y())).identity(q);
      }
      chunks.add(chunk(tf, c, tables, xs.get(i), q, keeps == null ? null : keeps.get(i)));
    }
    Operand<TInt32> ids = concat(tf, chunks.stream().map(Chunk::ids).toList()); // [S, h*k]
    Operand<T> gates = concat(tf, chunks.stream().map(Chunk::gates).toList()); // [S, h*k]
    Operand<T> y = concat(tf, chunks.stream().map(Chunk::y).toList()); // [S, D]
    Usage<T> usage = usage(tf, c, ids, gates);
    ExpertUsage expertUsage = new ExpertUsage(p.path() + "/keys", usage.entropy(), usage.headIds(), SelectionConfig.of(h, c.experts(), k));
    return new Output<>(tf.reshape(y, tf.constant(new int[] {-1, steps, d})), expertUsage, usage.share());
  }

  /** What every chunk reads: the expert tables by rows, the sub-key tables whole. */
  private record Tables<T extends TFloating>(RowTable<T> u, RowTable<T> v, Operand<T> keys1, Operand<T> keys2) {}

  /**
   * @param ids [S_c, h*k] in [0, N)
   * @param gates [S_c, h*k]
   * @param y [S_c, D]
   */
  private record Chunk<T extends TFloating>(Operand<TInt32> ids, Operand<T> gates, Operand<T> y) {}

  /** Retrieval, gathers and the weighted sum for the tokens x [S_c, D] with queries q [S_c, h*dk]. */
  private static <T extends TFloating> Chunk<T> chunk(Ops tf, PeerConfig c, Tables<T> tables, Operand<T> x, Operand<T> q,
      Operand<T> keep) {
    Class<T> type = x.type();
    int h = c.heads();
    int k = c.k();
    int d = (int) x.shape().get(1);
    Split<T> halves = tf.split(tf.constant(1), tf.reshape(q, tf.constant(new int[] {-1, c.keyDim()})), 2L); // 2 x [S_c*h, dk/2]
    ProductKeys.Retrieval<T> chosen = ProductKeys.topK(tf, halves.output().get(0), halves.output().get(1), tables.keys1(), tables.keys2(), k);
    Operand<TInt32> ids = tf.reshape(chosen.ids(), tf.constant(new int[] {-1, h * k})); // [S_c, h*k] in [0, N)
    Operand<T> gates = tf.reshape(tf.nn.softmax(chosen.scores()), tf.constant(new int[] {-1, h * k})); // [S_c, h*k]
    Operand<T> uRows = tables.u().rows(ids); // [S_c, h*k, D]
    // Batched matmuls, not a product and a sum: no [S_c, h*k, D] temporary beside the rows, forward or back.
    Operand<T> pre = tf.reshape(tf.train.batchMatMul(uRows, tf.expandDims(x, tf.constant(2)), type),
        tf.constant(new int[] {-1, h * k})); // [S_c, h*k]
    Operand<T> weighted = tf.math.mul(activation(tf, c.activation(), pre), gates); // [S_c, h*k]
    if (keep != null) {
      weighted = tf.math.mul(weighted, keep);
    }
    Operand<T> vRows = tables.v().rows(ids); // [S_c, h*k, D]
    Operand<T> y = tf.reshape(tf.train.batchMatMul(tf.expandDims(weighted, tf.constant(1)), vRows, type),
        tf.constant(new int[] {-1, d})); // [S_c, D]
    return new Chunk<>(ids, gates, y);
  }

  /**
   * The tokens of each chunk of an input x [B, T, D]: as many as keep a chunk's gathered rows of one
   * table within {@code maxChunkBytes} (at least one), the last chunk ragged. A batch whose size is
   * not static (the SavedModel's signatures, decoding) is one chunk of unknown size, {@code [-1]}:
   * the graph cannot split an unknown count statically.
   *
   * @throws IllegalArgumentException if {@code maxChunkBytes} is not positive
   */
  static List<Integer> chunkSizes(PeerConfig c, Shape x, int elementBytes, long maxChunkBytes) {
    checkArgument(maxChunkBytes > 0, "the PEER chunk bound (%s bytes) must be positive", maxChunkBytes);
    long batch = x.get(0);
    if (batch < 0) {
      return List.of(-1);
    }
    long tokens = batch * x.get(1);
    long bytesPerToken = (long) c.heads() * c.k() * x.get(2) * elementBytes;
    long perChunk = Math.max(1, Math.min(tokens, maxChunkBytes / bytesPerToken));
    List<Integer> sizes = new ArrayList<>();
    for (long start = 0; start < tokens; start += perChunk) {
      sizes.add((int) Math.min(perChunk, tokens - start));
    }
    return sizes;
  }

  /** {@code value} [S, ...] split along its first axis into pieces of {@code sizes} (itself if one piece). */
  private static <T extends TType> List<Operand<T>> split(Ops tf, Operand<T> value, List<Integer> sizes) {
    if (sizes.size() == 1) {
      return List.of(value);
    }
    int[] sizeArray = sizes.stream().mapToInt(Integer::intValue).toArray();
    return List.copyOf(tf.splitV(value, tf.constant(sizeArray), tf.constant(0), (long) sizes.size()).output());
  }

  private static <T extends TType> Operand<T> concat(Ops tf, List<Operand<T>> pieces) {
    return pieces.size() == 1 ? pieces.get(0) : tf.concat(pieces, tf.constant(0));
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
      case RELU -> Relu.apply(tf, x);
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
