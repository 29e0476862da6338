package io.switchhead.ops.moe;

import io.switchhead.ops.Mode;
import static com.google.common.base.Preconditions.checkArgument;

import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.op.nn.TopK;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;
import org.tensorflow.types.family.TNumber;

/**
 * Sigmoid expert selection per head (SWITCHHEAD.md sections 1 and 3).
 *
 * <p>Glossary: N tokens, D model width, H heads, E experts per head, k chosen per head.
 * logits = x S^T with S [H*E, D], viewed [N, H, E]; per head, the top-k experts by logit (sigmoid is
 * monotonic, and logits do not saturate into ties the way float sigmoids do), with no gradient
 * through the choice; gates = sigmoid(logits) at the chosen experts, not renormalised.
 *
 * <p>N may be unknown when the graph is built (a server's batch): the sizes that depend on it then
 * come from the tensors when the graph runs. Where N is known (every training and evaluation graph)
 * they are the constants they always were, so those graphs do not change by one op.
 */
public final class ExpertSelection {

  private static final String WHERE = "expert selection";

  private ExpertSelection() {}

  /** Selection computed in float32, whatever the float type of x and S (the paper's mixed precision). */
  public static Selection<TFloat32> select(
      Ops tf, Operand<? extends TFloating> x, Operand<? extends TFloating> selection, SelectionConfig config,
      Mode mode, Operand<? extends TNumber> seed) {
    return select(tf, x, selection, config, mode, seed, TFloat32.class);
  }

  /**
   * Selection computed in {@code precision}: float32, or float64 (for float64 gradient checks).
   *
   * @param x [N, D], N static or known only at run time
   * @param selection S [H*E, D]
   * @param seed [2] int32 or int64, the expert-dropout seed; pass a different one each step (only
   *     read in TRAIN mode with expertDropout > 0)
   */
  public static <U extends TFloating> Selection<U> select(
      Ops tf, Operand<? extends TFloating> x, Operand<? extends TFloating> selection, SelectionConfig config,
      Mode mode, Operand<? extends TNumber> seed, Class<U> precision) {
    checkArgument(
        precision == TFloat32.class || precision == TFloat64.class,
        "%s: precision must be TFloat32 or TFloat64, got %s",
        WHERE,
        precision.getSimpleName());
    int h = config.heads();
    int e = config.experts();
    int k = config.k();
    long[] xs = MatmulShapes.dimsAnyRows(WHERE, "x [N, D]", x, 2);
    long[] ss = staticShape(selection, "selection S [H*E, D]", 2);
    checkArgument(
        ss[0] == (long) h * e && ss[1] == xs[1],
        "%s: selection S must have shape [H*E=%s, D=%s], got %s",
        WHERE,
        (long) h * e,
        xs[1],
        Shape.of(ss));
    int n = Math.toIntExact(xs[0]); // -1 when N is known only at run time
    Ops sel = tf.withSubScope("expertSelection");

    Operand<U> flatLogits =
        sel.linalg.matMul(
            sel.dtypes.cast(x, precision), sel.dtypes.cast(selection, precision), MatMul.transposeB(true)); // [N, H*E]
    Operand<U> logits = sel.reshape(flatLogits, sel.constant(new int[] {n, h, e})); // [N, H, E]; -1 infers N
    Operand<U> scores = logits;
    if (mode == Mode.TRAIN && config.expertDropout() > 0) {
      scores = ExpertDropout.mask(sel, logits, config.expertDropout(), seed);
    }
    // The choice carries no gradient; the gates below do.
    TopK<U, TInt32> top = sel.nn.topK(sel.stopGradient(scores), sel.constant(k), new TopK.Options[0]);
    Operand<TInt32> chosen = top.indices(); // [N, H, k] in [0, E)

    // Gates from the unmasked sigmoid: gather at flat positions (n*H + h)*E + e.
    int[][][] headOffset = new int[1][h][1];
    for (int head = 0; head < h; head++) {
      headOffset[0][head][0] = head * e;
    }
    Operand<U> sigmoid = sel.reshape(sel.math.sigmoid(logits), sel.constant(new int[] {(int) rowsTimes(n, h * e)})); // [N*H*E]
    Operand<U> gates =
        sel.gather(sigmoid, sel.math.add(chosen, rowHeadOffsets(sel, logits, n, h, e)), sel.constant(0)); // [N, H, k]
    Operand<TInt32> ids = sel.math.add(chosen, sel.constant(headOffset)); // [N, H, k] in [0, H*E)
    Operand<TInt32> slotShape = sel.constant(new int[] {n, h * k});
    return new Selection<>(sel.reshape(ids, slotShape), sel.reshape(gates, slotShape), logits);
  }

  /**
   * [N, H, 1] holding (n*H + h)*E, where row n's head h starts in the flat [N*H*E] logits: a constant
   * when N is known, else every E-th position below the logits' size.
   */
  private static Operand<TInt32> rowHeadOffsets(Ops sel, Operand<?> logits, int n, int h, int e) {
    if (n < 0) {
      Operand<TInt32> starts = sel.range(sel.constant(0), sel.size(logits), sel.constant(e)); // [N*H]
      return sel.reshape(starts, sel.constant(new int[] {-1, h, 1}));
    }
    int[][][] offsets = new int[n][h][1];
    for (int token = 0; token < n; token++) {
      for (int head = 0; head < h; head++) {
        offsets[token][head][0] = (token * h + head) * e;
      }
    }
    return sel.constant(offsets);
  }

  /**
   * The entropy regulariser of SWITCHHEAD.md section 3, per head: -H(mean over tokens of
   * softmax(logits)). Minimising it spreads the tokens over the experts. Computed in log space, as
   * the authors do, so no probability underflows to log(0).
   *
   * @param logits [N, H, E], N static or known only at run time
   * @return [H] negative entropies; the loss adds lambda times their mean (or sum, as configured)
   */
  public static <U extends TFloating> Operand<U> negativeEntropy(Ops tf, Operand<U> logits) {
    long[] dims = MatmulShapes.dimsAnyRows(WHERE, "logits [N, H, E]", logits, 3); // dims[0] = -1 infers N
    Ops ent = tf.withSubScope("selectionEntropy");
    // LogSoftmax on a [N*H, E] view: TensorFlow's C++ LogSoftmax gradient sums over axis 1, so it
    // is wrong above rank 2 (pinned by CppGradientTrapsTest).
    Operand<U> logP =
        ent.reshape(
            ent.nn.logSoftmax(ent.reshape(logits, ent.constant(new long[] {rowsTimes(dims[0], dims[1]), dims[2]}))),
            ent.constant(dims)); // [N, H, E]
    // log(mean_n exp(logP)) with the max factored out; the max cancels, so it carries no gradient.
    Operand<U> max = ent.stopGradient(ent.reduceMax(logP, ent.constant(0))); // [H, E]
    Operand<U> logMean =
        ent.math.add(max, ent.math.log(ent.math.mean(ent.math.exp(ent.math.sub(logP, max)), ent.constant(0)))); // [H, E]
    return ent.reduceSum(ent.math.mul(ent.math.exp(logMean), logMean), ent.constant(-1)); // [H]
  }

  /** N times {@code factor}, or -1 (the size a reshape infers) when N is known only at run time. */
  private static long rowsTimes(long n, long factor) {
    return n < 0 ? -1 : n * factor;
  }

  private static long[] staticShape(Operand<?> x, String what, int rank) {
    Shape shape = x.shape();
    checkArgument(
        !shape.isUnknown() && shape.numDimensions() == rank && !shape.hasUnknownDimension(),
        "%s: %s must have a static rank-%s shape, got %s",
        WHERE,
        what,
        rank,
        shape);
    return shape.asArray();
  }
}
