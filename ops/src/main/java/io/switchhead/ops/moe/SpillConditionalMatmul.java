package io.switchhead.ops.moe;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.ops.control.CountedLoop;
import io.switchhead.ops.control.CountedLoop.Spec;
import io.switchhead.ops.gradients.GradientOverride;
import java.util.List;
import java.util.Optional;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * A dropless, exact conditional matmul that copies weights only for the pairs an even split has no
 * room for: the capacity layout for the bulk, the block-padded one for the spill.
 *
 * <p>Each expert's first C = ceil(f * N*k / M) pairs, in row-major order (f: the capacity factor
 * of {@code bulk}), go to a capacity region, [M, C, dIn], multiplied by W as it is, expert by
 * expert ({@link CapacityRegion}): no weight is copied. The pairs past an expert's first C spill
 * into a block-padded region ({@link BlockRouting} with its first C ranks skipped, run by {@link
 * SortedConditionalMatmul}'s loop over groups of blocks), which copies one expert's weights per
 * block of B rows and adds its rows into the capacity region's per-pair outputs. With a uniform
 * routing and the default factor few pairs spill, so the loop usually runs one group. With a
 * skewed one more spill, up to all but C of them, which the block region's worst case still
 * holds: nothing is ever dropped, but the capacity rows of idle experts are computed for nothing,
 * so skewed routings run faster on the block layout ({@link XlaConditionalMatmul}).
 *
 * <p>Why: under XLA on the CPU, the block-padded layout's per-block weight copies (and their
 * gradients) are the part of its step that grows with M, and this layout copies weights only for
 * the spill: for balanced routings it is the faster of the two (docs/benchmarks/conditional-matmul.md).
 *
 * <p>Backward ({@link SpillMatmulGradient}): gathers and batched matmuls, as in the two layouts it
 * combines, plus the spill loop's scatter-adds of its own rows into dx and the experts' dW^T sums,
 * which start from the capacity region's.
 *
 * @param bulk the capacity layout whose buffer takes each expert's first C pairs
 * @param spillBlockSize B of the spill region: small, since an expert's spill is small
 * @param spillGroupBlocks blocks per loop iteration of the spill region
 */
public record SpillConditionalMatmul(CapacityConditionalMatmul bulk, int spillBlockSize, int spillGroupBlocks) implements SlotsOrSummed {

  private static final String WHERE = "spill conditional matmul";

  static {
    GradientOverride.define(SpillMatmulGradient.NAME, new SpillMatmulGradient());
  }

  public SpillConditionalMatmul {
    checkArgument(bulk != null, "bulk (the capacity layout) must be given");
    checkArgument(spillBlockSize >= 1, "spillBlockSize must be >= 1, got %s", spillBlockSize);
    checkArgument(spillGroupBlocks >= 1, "spillGroupBlocks must be >= 1, got %s", spillGroupBlocks);
  }

  /** C = ceil(capacityFactor * N*k / M), at least 1. */
  public SpillConditionalMatmul(double capacityFactor, int spillBlockSize, int spillGroupBlocks) {
    this(new CapacityConditionalMatmul(capacityFactor), spillBlockSize, spillGroupBlocks);
  }

  /**
   * {@link MoeTuning#SPILL_CAPACITY_FACTOR}, {@link MoeTuning#SPILL_BLOCK_SIZE} and {@link
   * MoeTuning#SPILL_GROUP_BLOCKS}; nearby values time within noise of them
   * (docs/benchmarks/conditional-matmul.md).
   */
  public static SpillConditionalMatmul withDefaults() {
    return new SpillConditionalMatmul(MoeTuning.SPILL_CAPACITY_FACTOR, MoeTuning.SPILL_BLOCK_SIZE, MoeTuning.SPILL_GROUP_BLOCKS);
  }

  /** C, the pairs of each expert that the capacity region holds. */
  public int capacity(MatmulShapes s) {
    return bulk.capacity(s);
  }

  /** The spill region's layout: the block layout's worst case, which bounds any spill. */
  public BlockLayout spillLayout(MatmulShapes s) {
    return new BlockLayout(s.pairs(), s.experts(), spillBlockSize, spillGroupBlocks);
  }

  @Override
  @SuppressWarnings("unchecked")
  public <T extends TFloating> Operand<T> build(
      Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates, boolean slots) {
    MatmulShapes s = MatmulShapes.of(WHERE, x, w, ids, gates);
    int c = capacity(s);
    BlockLayout layout = spillLayout(s);
    Ops mm = tf.withSubScope("spillMatmul");
    Routing route = Routing.build(mm.withSubScope("routing"), ExpertIds.checked(mm, ids, s.experts()), s, c, layout);
    Operand<TInt32> axis0 = mm.constant(0);

    // Capacity region: one batched matmul, W used as it is; its pairs' rows in pair order.
    CapacityRegion region = CapacityRegion.of(s, c);
    CapacityConditionalMatmul.Routing capacity = route.capacity();
    Operand<T> yCapacity = region.outputs(mm, x, w, capacity.sourceRow()); // [M*C, dOut]
    Operand<T> inCapacity = mm.dtypes.cast(capacity.kept(), x.type()); // [N, k], 1 or 0
    Operand<T> yStart =
        mm.math.mul(
            mm.gather(yCapacity, capacity.slotOfPair(), axis0),
            mm.reshape(inCapacity, mm.constant(new int[] {s.pairs(), 1}))); // [T, dOut], 0 for spilled pairs
    // Spill region: the loop adds the spilled pairs' rows, group by group.
    BlockRouting spill = route.spill();
    List<Operand<?>> inputs =
        List.of(
            x,
            w,
            Indices.byGroup(mm, spill.sourceRow(), layout),
            Indices.byGroup(mm, spill.blockExpert(), layout),
            Indices.byGroup(mm, spill.pairOfRow(), layout),
            Indices.byGroup(mm, mm.dtypes.cast(spill.inRun(), x.type()), layout));
    CountedLoop.Definition forward =
        CountedLoop.define(
            mm,
            "spillMatmulForward",
            inputs.stream().map(Spec::of).toList(),
            List.of(Spec.of(yStart)),
            (ops, i, in, carried) -> {
              Operand<T> held = ops.gather((Operand<T>) in.get(5), i, ops.constant(0)); // [G*B]
              return List.of(
                  ops.tensorScatterNdAdd(
                      (Operand<T>) carried.get(0),
                      ops.expandDims(Indices.groupRow(ops, (Operand<TInt32>) in.get(4), i), ops.constant(1)),
                      ops.math.mul(SortedConditionalMatmul.groupOutput(ops, i, in, s, layout), ops.expandDims(held, ops.constant(1)))));
            });
    Operand<T> ySlots =
        mm.reshape(
            (Operand<T>) CountedLoop.call(mm, forward, spill.usedGroups(), layout.groups(), inputs, List.of(yStart)).get(0),
            mm.constant(new int[] {s.rows(), s.k(), s.dOut()})); // not yet gated
    Operand<T> weighted = mm.math.mul(ySlots, mm.expandDims(gates, mm.constant(-1)));
    Operand<T> value = slots ? weighted : mm.reduceSum(weighted, mm.constant(1));
    // Each buffer row's gate, 0 on rows no pair fills: the backward weights the buffers with it.
    Operand<T> flatGates = mm.reshape(gates, mm.constant(new int[] {s.pairs()}));
    Operand<T> capacityGate =
        mm.math.mul(mm.gather(flatGates, capacity.pairOfRow(), axis0), mm.dtypes.cast(capacity.filled(), x.type())); // [M*C]
    Operand<T> spillGate =
        mm.math.mul(mm.gather(flatGates, spill.pairOfRow(), axis0), mm.dtypes.cast(spill.inRun(), x.type())); // [P]

    // The value passes through a node whose gradient is SpillMatmulGradient; it reads the saved
    // tensors from the node's inputs, in the order of SpillMatmulGradient.Input. Its loop is
    // defined here, outside the gradient (see CountedLoop).
    SpillMatmulGradient.Config config =
        new SpillMatmulGradient.Config(
            c,
            region.defineBackward(mm, slots, x.type()),
            new SortedMatmulGradient.Config(
                s, layout.blockSize(), layout.groupBlocks(), slots, Optional.of(SpillMatmulGradient.defineLoop(mm, s, layout, slots, x.type()))));
    return GradientOverride.withGradient(
            mm,
            SpillMatmulGradient.NAME,
            config.toRecord().encode(),
            value,
            List.of(
                x,
                w,
                gates,
                mm.stopGradient(ySlots),
                mm.stopGradient(inCapacity),
                mm.stopGradient(mm.reshape(capacity.slotOfPair(), mm.constant(new int[] {s.rows(), s.k()}))),
                mm.stopGradient(capacityGate),
                mm.stopGradient(capacity.pairOfRow()),
                mm.stopGradient(capacity.sourceRow()),
                mm.stopGradient(spillGate),
                mm.stopGradient(spill.pairOfRow()),
                mm.stopGradient(spill.sourceRow()),
                mm.stopGradient(spill.blockExpert()),
                mm.stopGradient(spill.usedGroups())));
  }

  /** How many of the N*k pairs of {@code ids} [N, k] spill past the capacity region: a scalar. */
  public Operand<TInt32> spilledPairs(Ops tf, Operand<TInt32> ids, int experts) {
    return bulk.droppedPairs(tf, ids, experts);
  }

  /**
   * Where each pair goes and what each buffer row reads: the capacity layout's routing for the
   * capacity region, and the block layout's, past each expert's first C ranks, for the spill
   * region; both from one table of prefix counts.
   */
  record Routing(CapacityConditionalMatmul.Routing capacity, BlockRouting spill) {

    static Routing build(Ops rt, Operand<TInt32> ids, MatmulShapes s, int c, BlockLayout layout) {
      Operand<TInt32> expert = rt.reshape(rt.stopGradient(ids), rt.constant(new int[] {s.pairs()})); // [T]
      PrefixCounts table = PrefixCounts.of(rt, expert, s.pairs(), s.experts());
      return new Routing(CapacityConditionalMatmul.Routing.build(rt, expert, table, s, c), BlockRouting.build(rt, expert, table, s, layout, c));
    }
  }
}
