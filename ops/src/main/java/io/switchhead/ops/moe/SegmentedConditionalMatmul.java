package io.switchhead.ops.moe;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.ops.gradients.GradientOverride;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.AssertThat;
import org.tensorflow.op.core.Unstack;
import org.tensorflow.op.nn.TopK;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The conditional matmul for the plain graph, its default dispatch, where shapes may be dynamic: the N*k (row, slot) pairs
 * sorted by expert, the input rows gathered in that order, split into one segment per expert of
 * exactly its size, one matmul per expert on its segment, the results concatenated and gathered back.
 * No padding and no per-block copies of the weights: the work is the useful work. The gradient is
 * {@link SegmentedMatmulGradient}: the same two matmuls per expert as TensorFlow's own gradients of
 * these ops, without keeping the sorted rows for the whole backward pass.
 *
 * <p>The segment sizes are data, so XLA cannot compile this: XLA steps use {@link
 * XlaConditionalMatmul}, which picks a layout with static shapes (the block-padded {@link
 * SortedConditionalMatmul} or {@link SpillConditionalMatmul}). The graph holds one matmul per
 * expert, so it suits tens of experts, not thousands.
 *
 * <p>The row count N may be unknown when the graph is built (a server's batch): nothing is sized by
 * it, so the N-dependent sizes then come from the ids when the graph runs. Where N is known (every
 * training and evaluation graph) they are the constants they always were.
 */
public final class SegmentedConditionalMatmul implements ConditionalMatmul {

  /**
   * The name scope of its ops (the second use in a scope is {@code segmentedMatmul_1}, TensorFlow's
   * renaming): a SavedModel marked for XLA leaves them unmarked, as their segment sizes are data.
   */
  public static final String SCOPE = "segmentedMatmul";

  private static final String WHERE = "segmented conditional matmul";

  static {
    GradientOverride.define(SegmentedMatmulGradient.NAME, new SegmentedMatmulGradient());
  }

  private final boolean alignSegments;

  /** The default: each expert's segment starts on an aligned row ({@link ExpertSegments}). */
  public SegmentedConditionalMatmul() {
    this(true);
  }

  private SegmentedConditionalMatmul(boolean alignSegments) {
    this.alignSegments = alignSegments;
  }

  /** Segments packed without pad rows, whose splits copy unless the rows' width is aligned: what alignment buys, for benchmarks. */
  public static SegmentedConditionalMatmul unaligned() {
    return new SegmentedConditionalMatmul(false);
  }

  @Override
  public <T extends TFloating> Operand<T> slotOutputs(Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates) {
    MatmulShapes.Dims s = MatmulShapes.read(WHERE, x, w, ids, gates);
    // P = N*k: -1 (inferred by reshapes) where N is known only at run time.
    int pairs = s.rowsKnown() ? s.known().pairs() : -1;
    checkArgument(pairs < 0 || (long) s.experts() * pairs < Integer.MAX_VALUE, "%s: M * N * k (%s * %s) must fit an int32 sort key",
        WHERE, s.experts(), pairs);
    Ops mm = tf.withSubScope(SCOPE);
    Operand<TInt32> flatIds = mm.reshape(mm.stopGradient(ExpertIds.checked(mm, ids, s.experts())), mm.constant(new int[] {pairs})); // [P]
    // Where N is static, each use makes the constant it always did, so those graphs keep every op.
    Operand<TInt32> runTimePairs = pairs < 0 ? sortablePairs(mm, flatIds, s.experts()) : null;
    Supplier<Operand<TInt32>> pairCount = pairs < 0 ? () -> runTimePairs : () -> mm.constant(pairs);

    // Sort the pairs by expert, stably: the key expert * P + pair is unique; top-k of its negation.
    Operand<TInt32> pairIndex = mm.range(mm.constant(0), pairCount.get(), mm.constant(1));
    Operand<TInt32> keys = mm.math.add(mm.math.mul(flatIds, pairCount.get()), pairIndex);
    Operand<TInt32> order = mm.nn.topK(mm.math.neg(keys), pairCount.get(), new TopK.Options[0]).indices(); // [P] pairs by expert
    Operand<TInt32> counts = mm.math.unsortedSegmentSum(mm.onesLike(flatIds), flatIds, mm.constant(s.experts())); // [M]

    if (s.experts() == 1) {
      // One expert: no segments (and SplitV/Unpack/ConcatV2 gradients want at least two parts).
      Operand<T> xSorted = mm.gather(x, mm.math.floorDiv(order, mm.constant(s.k())), mm.constant(0)); // [P, dIn]
      Operand<T> y = mm.linalg.matMul(xSorted, mm.reshape(w, mm.constant(new int[] {s.dIn(), s.dOut()})));
      return gatherBack(mm, y, mm.math.invertPermutation(order), gates, s);
    }
    int bytes = ExpertSegments.valueBytes(x.type());
    int alignRows = alignSegments ? ExpertSegments.alignmentRows(s.dIn() * bytes, s.dOut() * bytes) : 1;
    ExpertSegments<T> seg = ExpertSegments.of(mm, order, flatIds, counts, mm.reshape(gates, mm.constant(new int[] {-1})), s.k(), alignRows);
    Operand<T> xSegmented = mm.gather(x, seg.rows(), mm.constant(0)); // [S, dIn]
    List<Operand<T>> segments = seg.split(mm, xSegmented, s.dIn(), s.experts()); // M x [size_e, dIn]
    List<Output<T>> weights = mm.unstack(w, (long) s.experts(), Unstack.axis(0L)).output(); // M x [dIn, dOut]
    List<Operand<T>> products = new ArrayList<>();
    for (int e = 0; e < s.experts(); e++) {
      products.add(mm.linalg.matMul(segments.get(e), weights.get(e))); // [size_e, dOut]
    }
    Operand<T> value = gatherBack(mm, mm.concat(products, mm.constant(0)), seg.pairPositions(), gates, s);
    // The backward is SegmentedMatmulGradient's: it keeps x, not the k sorted copies of its rows.
    String config = SegmentedMatmulGradient.config(s.experts(), s.dIn(), s.dOut(), seg.padded());
    return GradientOverride.withGradient(mm, SegmentedMatmulGradient.NAME, config, value,
        List.of(x, w, gates, mm.stopGradient(seg.pairs()), mm.stopGradient(seg.rows()), mm.stopGradient(seg.sizes()),
            mm.stopGradient(seg.pairPositions()), mm.stopGradient(seg.gates())));
  }

  /**
   * P, the pairs in {@code flatIds}, when the graph runs, with a control dependency on an assertion
   * that the sort keys expert * P + pair fit an int32 (checked in Java where N is static).
   */
  private static Operand<TInt32> sortablePairs(Ops mm, Operand<TInt32> flatIds, int experts) {
    Operand<TInt32> pairs = mm.size(flatIds);
    AssertThat fits = mm.assertThat(mm.math.lessEqual(pairs, mm.constant((Integer.MAX_VALUE - 1) / experts)),
        List.of(mm.constant(WHERE + ": M * N * k must fit an int32 sort key; M = " + experts + ", N * k ="), pairs));
    return mm.withControlDependencies(List.of(fits)).identity(pairs);
  }

  /** The segments' results [S, dOut] back in (row, slot) order, weighted by the gates: [N, k, dOut]. */
  private static <T extends TFloating> Operand<T> gatherBack(Ops mm, Operand<T> ySegmented, Operand<TInt32> pairPositions, Operand<T> gates,
      MatmulShapes.Dims s) {
    Operand<T> yPairs = mm.gather(ySegmented, pairPositions, mm.constant(0)); // [P, dOut] in pair order
    Operand<T> ySlots = mm.reshape(yPairs, mm.constant(new int[] {(int) s.rows(), s.k(), s.dOut()})); // -1 infers N
    return mm.math.mul(ySlots, mm.expandDims(gates, mm.constant(-1))); // [N, k, dOut]
  }
}
