package io.switchhead.ops.moe;

import io.switchhead.ops.BatchMatmulV2;
import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.ops.control.CountedLoop;
import io.switchhead.ops.control.CountedLoop.Spec;
import io.switchhead.ops.gradients.GradientOverride;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The block-padded conditional matmul: dropless, exact, every shape static, and its cost grows
 * with k, not with M. It is one of the two layouts of XLA steps: {@link XlaConditionalMatmul} picks
 * it where its worst case fits one group and the spill layout ({@link SpillConditionalMatmul})
 * beyond. It is the faster of the two for skewed routings; the spill layout is faster only for
 * balanced ones. The plain graph's default dispatch is {@link SegmentedConditionalMatmul}.
 *
 * <p>The N*k (row, slot) pairs are sorted by expert and laid out in a buffer in which each expert's
 * run is padded to a multiple of the block size B ({@link BlockRouting}). Forward, one loop
 * iteration per group of blocks ({@link BlockLayout#groupBlocks}): gather the group's input rows
 * and each block's expert weights, run one batched matmul, write the group's rows of the output
 * buffer. Then gather the results back to (row, slot) order and weight them by the gates. Padding
 * rows read some real row of X rather than an appended zero row (which would copy X): their outputs
 * are never gathered back and their output gradient is zero, so they contribute nothing.
 *
 * <p>Why a loop ({@link CountedLoop}): the buffer must hold the worst routing, N*k + M*(B-1) rows,
 * but a spread routing fills about N*k + M*B/2, and the loop runs only the groups that hold pairs.
 * Under XLA each group's gathered rows are also still in cache when its matmul reads them, which
 * makes the loop faster than one batched matmul over the whole buffer
 * (docs/benchmarks/conditional-matmul.md). Small problems, one group, run the same computation
 * without a loop op ({@link MoeTuning#BLOCK_LAYOUT_SINGLE_GROUP_MAX_ROWS}).
 *
 * <p>Backward ({@link SortedMatmulGradient}): the same loop in reverse, with gathers only (the
 * routing keeps both index maps) and two more batched matmuls per group; each group's weight
 * gradients are added into their experts' sums. Nothing is ever densified over the M experts.
 *
 * <p>Every tensor has a static shape and the loop's trip count is a scalar, so it compiles under XLA.
 *
 * @param blockSize B, or empty to choose it from the shapes ({@link BlockLayout#defaultBlockSize})
 * @param groupBlocks blocks per loop iteration, or empty for the default of {@link BlockLayout}
 */
public record SortedConditionalMatmul(OptionalInt blockSize, OptionalInt groupBlocks) implements SlotsOrSummed {

  private static final String WHERE = "sorted conditional matmul";

  static {
    GradientOverride.define(SortedMatmulGradient.NAME, new SortedMatmulGradient());
  }

  public SortedConditionalMatmul {
    checkArgument(
        blockSize.isEmpty() || blockSize.getAsInt() >= 1,
        "blockSize must be >= 1, got %s",
        blockSize);
    checkArgument(
        groupBlocks.isEmpty() || groupBlocks.getAsInt() >= 1,
        "groupBlocks must be >= 1, got %s",
        groupBlocks);
  }

  /** Block size chosen from the shapes. */
  public static SortedConditionalMatmul withDefaultBlockSize() {
    return new SortedConditionalMatmul(OptionalInt.empty(), OptionalInt.empty());
  }

  /** A fixed block size B (any B >= 1; B = 1 pads nothing). */
  public static SortedConditionalMatmul withBlockSize(int blockSize) {
    return new SortedConditionalMatmul(OptionalInt.of(blockSize), OptionalInt.empty());
  }

  /** A fixed block size B and G blocks per loop iteration (small G: many iterations, for tests). */
  public static SortedConditionalMatmul withBlocks(int blockSize, int groupBlocks) {
    return new SortedConditionalMatmul(OptionalInt.of(blockSize), OptionalInt.of(groupBlocks));
  }

  /** The layout these shapes get. */
  public BlockLayout layout(MatmulShapes shapes) {
    int b = blockSize.orElse(BlockLayout.defaultBlockSize(shapes));
    return groupBlocks.isPresent()
        ? new BlockLayout(shapes.pairs(), shapes.experts(), b, groupBlocks.getAsInt())
        : BlockLayout.of(shapes, b);
  }

  @Override
  @SuppressWarnings("unchecked")
  public <T extends TFloating> Operand<T> build(
      Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates, boolean slots) {
    MatmulShapes s = MatmulShapes.of(WHERE, x, w, ids, gates);
    BlockLayout layout = layout(s);
    Ops mm = tf.withSubScope("sortedMatmul");
    BlockRouting route = BlockRouting.build(mm, ExpertIds.checked(mm, ids, s.experts()), s, layout);
    Operand<TInt32> axis0 = mm.constant(0);
    Operand<TInt32> groupSources = Indices.byGroup(mm, route.sourceRow(), layout); // [groups, G*B]
    Operand<TInt32> groupExperts = Indices.byGroup(mm, route.blockExpert(), layout); // [groups, G]

    List<Operand<?>> inputs = List.of(x, w, groupSources, groupExperts);
    Operand<T> yBuffer; // [P, dOut]; skipped groups are zero
    if (layout.groups() == 1) {
      // One group: no loop op (TensorFlow 2.18's XLA CPU runtime slows whole training steps down
      // when they hold loops, see MoeTuning).
      yBuffer = mm.reshape(groupOutput(mm, mm.constant(0), inputs, s, layout), mm.constant(new int[] {layout.paddedRows(), s.dOut()}));
    } else {
      CountedLoop.Definition forward =
          CountedLoop.define(
              mm,
              "sortedMatmulForward",
              List.of(Spec.of(x), Spec.of(w), Spec.of(groupSources), Spec.of(groupExperts)),
              List.of(new Spec(x.type(), Shape.of(layout.groups(), layout.groupRows(), s.dOut()))),
              (ops, i, in, carried) ->
                  List.of(
                      ops.tensorScatterNdUpdate(
                          (Operand<T>) carried.get(0),
                          ops.reshape(i, ops.constant(new int[] {1, 1})),
                          ops.expandDims(groupOutput(ops, i, in, s, layout), ops.constant(0)))));
      Operand<T> empty = mm.zeros(mm.constant(new int[] {layout.groups(), layout.groupRows(), s.dOut()}), x.type());
      yBuffer =
          mm.reshape(
              (Operand<T>) CountedLoop.call(mm, forward, route.usedGroups(), layout.groups(), inputs, List.of(empty)).get(0),
              mm.constant(new int[] {layout.paddedRows(), s.dOut()}));
    }
    Operand<T> ySlots = mm.gather(yBuffer, route.padPos(), axis0); // [N, k, dOut], not yet gated
    Operand<T> weighted = mm.math.mul(ySlots, mm.expandDims(gates, mm.constant(-1))); // [N, k, dOut]
    Operand<T> value = slots ? weighted : mm.reduceSum(weighted, mm.constant(1)); // [N, k, dOut] or [N, dOut]
    // The gate of each buffer row, 0 on padding: the backward weights the buffer with it.
    Operand<T> bufferGate =
        mm.math.mul(
            mm.gather(mm.reshape(gates, mm.constant(new int[] {s.pairs()})), route.pairOfRow(), axis0),
            mm.dtypes.cast(route.inRun(), x.type())); // [P]

    // The value passes through a node whose gradient is SortedMatmulGradient; it reads the saved
    // tensors from the node's inputs, in the order of SortedMatmulGradient.Input. Its loop is
    // defined here, outside the gradient (see CountedLoop).
    SortedMatmulGradient.Config config =
        new SortedMatmulGradient.Config(
            s,
            layout.blockSize(),
            layout.groupBlocks(),
            slots,
            layout.groups() == 1 ? Optional.empty() : Optional.of(SortedMatmulGradient.defineLoop(mm, s, layout, slots, x.type())));
    return GradientOverride.withGradient(
            mm,
            SortedMatmulGradient.NAME,
            config.toRecord().encode(),
            value,
            List.of(
                x,
                w,
                gates,
                mm.stopGradient(ySlots),
                mm.stopGradient(bufferGate),
                mm.stopGradient(route.padPos()),
                mm.stopGradient(route.pairOfRow()),
                mm.stopGradient(route.sourceRow()),
                mm.stopGradient(route.blockExpert()),
                mm.stopGradient(route.usedGroups())));
  }

  /**
   * The outputs of group {@code i}'s rows, [G*B, dOut]: its input rows and its blocks' expert
   * weights gathered, one batched matmul. {@code in}: x, w, group sources, group experts.
   */
  @SuppressWarnings("unchecked")
  static <T extends TFloating> Operand<T> groupOutput(
      Ops ops, Operand<TInt32> i, List<Operand<?>> in, MatmulShapes s, BlockLayout layout) {
    Operand<T> xs =
        ops.reshape(
            ops.gather((Operand<T>) in.get(0), Indices.groupRow(ops, (Operand<TInt32>) in.get(2), i), ops.constant(0)),
            ops.constant(new int[] {layout.groupBlocks(), layout.blockSize(), s.dIn()})); // [G, B, dIn]
    Operand<T> ws = ops.gather((Operand<T>) in.get(1), Indices.groupRow(ops, (Operand<TInt32>) in.get(3), i), ops.constant(0)); // [G, dIn, dOut]
    return ops.reshape(BatchMatmulV2.of(ops, xs, ws, false, false), ops.constant(new int[] {layout.groupRows(), s.dOut()}));
  }
}
