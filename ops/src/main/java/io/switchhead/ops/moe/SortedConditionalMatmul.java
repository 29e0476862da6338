package io.switchhead.ops.moe;

import static com.google.common.base.Preconditions.checkArgument;

import java.util.OptionalInt;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The fast conditional matmul: dropless, exact, and its cost grows with k, not with M.
 *
 * <p>The N*k (row, slot) pairs are sorted by expert and laid out in a buffer in which each expert's
 * run is padded to a multiple of the block size B ({@link BlockRouting}). Then: gather the input rows
 * into the buffer, gather each block's expert weights, run one batched matmul over the blocks, gather
 * the results back to (row, slot) order and weight them by the gates. Gradients are TensorFlow's own
 * for gather, batched matmul and multiply: the backward scatters into x and w, never densifies.
 *
 * <p>Everything has a static shape and no control flow, so it compiles under XLA.
 *
 * @param blockSize B, or empty to choose it from the shapes ({@link BlockLayout#defaultBlockSize})
 */
public record SortedConditionalMatmul(OptionalInt blockSize) implements ConditionalMatmul {

  private static final String WHERE = "sorted conditional matmul";

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
    MatmulShapes s = MatmulShapes.of(WHERE, x, w, ids, gates);
    BlockLayout layout = layout(s);
    Ops mm = tf.withSubScope("sortedMatmul");
    BlockRouting route = BlockRouting.build(mm, ExpertIds.checked(mm, ids, s.experts()), s, layout);
    Operand<TInt32> axis0 = mm.constant(0);
    int blocks = layout.blocks();
    int b = layout.blockSize();

    Operand<T> xBuffer = mm.gather(x, route.sourceRow(), axis0); // [P, dIn]
    Operand<T> wBlocks = mm.gather(w, route.blockExpert(), axis0); // [P/B, dIn, dOut]
    Operand<T> yBlocks =
        mm.train.batchMatMul(
            mm.reshape(xBuffer, mm.constant(new int[] {blocks, b, s.dIn()})), wBlocks, x.type()); // [P/B, B, dOut]
    Operand<T> yBuffer = mm.reshape(yBlocks, mm.constant(new int[] {layout.paddedRows(), s.dOut()})); // [P, dOut]
    Operand<T> ySlots =
        mm.reshape(
            mm.gather(yBuffer, route.padPos(), axis0),
            mm.constant(new int[] {s.rows(), s.k(), s.dOut()})); // [N, k, dOut]
    return mm.math.mul(ySlots, mm.expandDims(gates, mm.constant(-1))); // [N, k, dOut]
  }
}
