package io.switchhead.ops.moe;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.ops.gradients.GradientOverride;
import java.util.List;
import java.util.OptionalInt;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The fast conditional matmul: dropless, exact, and its cost grows with k, not with M.
 *
 * <p>The N*k (row, slot) pairs are sorted by expert and laid out in a buffer in which each expert's
 * run is padded to a multiple of the block size B ({@link BlockRouting}). Forward: gather the input
 * rows into the buffer, gather each block's expert weights, run one batched matmul over the blocks,
 * gather the results back to (row, slot) order, weight them by the gates. Padding rows read some
 * real row of X rather than an appended zero row (which would copy X): their outputs are never
 * gathered back and their output gradient is zero, so they contribute nothing.
 *
 * <p>Backward ({@link SortedMatmulGradient}): the same layout in reverse, with gathers only (the
 * routing keeps both index maps) and two more batched matmuls; the weight gradient sums each
 * expert's blocks with one segment sum. Nothing is ever densified over the M experts.
 *
 * <p>Everything has a static shape and no control flow, so it compiles under XLA.
 *
 * @param blockSize B, or empty to choose it from the shapes ({@link BlockLayout#defaultBlockSize})
 */
public record SortedConditionalMatmul(OptionalInt blockSize) implements ConditionalMatmul {

  private static final String WHERE = "sorted conditional matmul";

  static {
    GradientOverride.define(SortedMatmulGradient.NAME, new SortedMatmulGradient());
  }

  public SortedConditionalMatmul {
    checkArgument(
        blockSize.isEmpty() || blockSize.getAsInt() >= 1,
        "blockSize must be >= 1, got %s",
        blockSize);
  }

  /** Block size chosen from the shapes. */
  public static SortedConditionalMatmul withDefaultBlockSize() {
    return new SortedConditionalMatmul(OptionalInt.empty());
  }

  /** A fixed block size B (any B >= 1; B = 1 pads nothing). */
  public static SortedConditionalMatmul withBlockSize(int blockSize) {
    return new SortedConditionalMatmul(OptionalInt.of(blockSize));
  }

  /** The layout these shapes get. */
  public BlockLayout layout(MatmulShapes shapes) {
    return BlockLayout.of(shapes, blockSize.orElse(BlockLayout.defaultBlockSize(shapes)));
  }

  @Override
  public <T extends TFloating> Operand<T> slotOutputs(
      Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates) {
    return build(tf, x, w, ids, gates, true);
  }

  @Override
  public <T extends TFloating> Operand<T> apply(
      Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates) {
    return build(tf, x, w, ids, gates, false);
  }

  @SuppressWarnings("unchecked")
  private <T extends TFloating> Operand<T> build(
      Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates, boolean slots) {
    MatmulShapes s = MatmulShapes.of(WHERE, x, w, ids, gates);
    BlockLayout layout = layout(s);
    Ops mm = tf.withSubScope("sortedMatmul");
    BlockRouting route = BlockRouting.build(mm, ExpertIds.checked(mm, ids, s.experts()), s, layout);
    Operand<TInt32> axis0 = mm.constant(0);

    Operand<T> xBlocks =
        mm.reshape(
            mm.gather(x, route.sourceRow(), axis0),
            mm.constant(new int[] {layout.blocks(), layout.blockSize(), s.dIn()})); // [P/B, B, dIn]
    Operand<T> wBlocks = mm.gather(w, route.blockExpert(), axis0); // [P/B, dIn, dOut]
    Operand<T> yBuffer =
        mm.reshape(
            BatchMatmulV2.of(mm, xBlocks, wBlocks, false, false),
            mm.constant(new int[] {layout.paddedRows(), s.dOut()})); // [P, dOut]
    Operand<T> ySlots = mm.gather(yBuffer, route.padPos(), axis0); // [N, k, dOut], not yet gated
    Operand<T> weighted = mm.math.mul(ySlots, mm.expandDims(gates, mm.constant(-1))); // [N, k, dOut]
    Operand<T> value = slots ? weighted : mm.reduceSum(weighted, mm.constant(1)); // [N, k, dOut] or [N, dOut]
    // The gate of each buffer row, 0 on padding: the backward weights the buffer with it.
    Operand<T> bufferGate =
        mm.math.mul(
            mm.gather(mm.reshape(gates, mm.constant(new int[] {s.pairs()})), route.pairOfRow(), axis0),
            mm.dtypes.cast(route.inRun(), x.type())); // [P]

    // The value passes through a node whose gradient is SortedMatmulGradient; it reads the saved
    // tensors from the node's inputs, in the order of SortedMatmulGradient.Input.
    SortedMatmulGradient.Config config = new SortedMatmulGradient.Config(s, layout.blockSize(), slots);
    GraphOperation node =
        GradientOverride.identity(
            mm,
            SortedMatmulGradient.NAME,
            config.encode(),
            List.of(
                mm.stopGradient(value),
                x,
                w,
                gates,
                mm.stopGradient(xBlocks),
                mm.stopGradient(ySlots),
                mm.stopGradient(bufferGate),
                mm.stopGradient(route.padPos()),
                mm.stopGradient(route.pairOfRow()),
                mm.stopGradient(route.sourceRow()),
                mm.stopGradient(route.blockExpert())));
    return (Operand<T>) (Operand<?>) node.output(SortedMatmulGradient.Input.VALUE.ordinal());
  }
}
