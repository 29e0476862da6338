package io.switchhead.ops.moe;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.ops.gradients.GradientOverride;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The GShard-style conditional matmul: each expert takes at most C pairs, the rest are dropped.
 *
 * <p>Pairs (n, j) are taken in row-major order, so an expert keeps its first C pairs and drops the
 * later ones; a dropped pair's slot output is zero and its gate gets no gradient. Count the drops
 * with {@link #droppedPairs}. This is not SwitchHead's method, which is dropless ({@link
 * SegmentedConditionalMatmul} in the plain graph, {@link XlaConditionalMatmul}'s choice with static
 * shapes); it is here to compare against, and for users who want its fixed cost.
 *
 * <p>Layout: a buffer of C rows per expert, [M, C, dIn], filled by one gather of X, multiplied by W
 * [M, dIn, dOut] as one batched matmul indexed by expert: no weight is copied and no loop is needed,
 * at the price of M*C - (kept pairs) rows of padding, which grows with the routing's imbalance. The
 * routing uses the prefix-count table of the sorted layout ({@link PrefixCounts}), so it has no sort
 * and no scatter, and the backward ({@link CapacityMatmulGradient}) has only gathers too.
 *
 * @param capacityFactor C = ceil(capacityFactor * N*k / M), at least 1: 1.0 has room for exactly an
 *     even routing, and a factor of M keeps every pair whatever the routing
 * @param fixedCapacity 0 for the rule above; else C itself, whatever N and k, for a layer whose own
 *     rule sets C from sizes this matmul does not see (MH-MoE counts sub-tokens, and calls its second
 *     matmul with k folded into N); the factor is then unused
 */
public record CapacityConditionalMatmul(double capacityFactor, int fixedCapacity) implements SlotsOrSummed {

  private static final String WHERE = "capacity conditional matmul";

  static {
    GradientOverride.define(CapacityMatmulGradient.NAME, new CapacityMatmulGradient());
  }

  public CapacityConditionalMatmul {
    checkArgument(
        capacityFactor > 0 && Double.isFinite(capacityFactor), "capacityFactor must be a finite number > 0, got %s", capacityFactor);
    checkArgument(fixedCapacity >= 0, "fixedCapacity must be >= 0 (0: from capacityFactor), got %s", fixedCapacity);
  }

  /** C = ceil(capacityFactor * N*k / M), at least 1. */
  public CapacityConditionalMatmul(double capacityFactor) {
    this(capacityFactor, 0);
  }

  /** Exactly {@code capacity} pairs per expert, whatever the shapes. */
  public static CapacityConditionalMatmul withCapacity(int capacity) {
    checkArgument(capacity >= 1, "capacity must be >= 1, got %s", capacity);
    return new CapacityConditionalMatmul(1.0, capacity);
  }

  /** C, the pairs each expert can take. */
  public int capacity(MatmulShapes s) {
    return capacity(s.pairs(), s.experts());
  }

  private int capacity(int pairs, int experts) {
    long c = fixedCapacity > 0 ? fixedCapacity : Math.max(1, (long) Math.ceil(capacityFactor * pairs / experts));
    checkArgument(
        c * experts < Integer.MAX_VALUE,
        "capacityFactor %s gives a buffer of M * C = %s * %s rows, more than int32 indexes",
        capacityFactor,
        experts,
        c);
    return (int) c;
  }

  @Override
  public <T extends TFloating> Operand<T> build(
      Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates, boolean slots) {
    MatmulShapes s = MatmulShapes.of(WHERE, x, w, ids, gates);
    int c = capacity(s);
    Ops mm = tf.withSubScope("capacityMatmul");
    Operand<TInt32> zero = mm.constant(0);
    Routing route = Routing.build(mm.withSubScope("routing"), ExpertIds.checked(mm, ids, s.experts()), s, c);

    CapacityRegion region = CapacityRegion.of(s, c);
    Operand<T> yBuffer = region.outputs(mm, x, w, route.sourceRow()); // [M*C, dOut]
    Operand<T> ySlots =
        mm.reshape(mm.gather(yBuffer, route.slotOfPair(), zero), mm.constant(new int[] {s.rows(), s.k(), s.dOut()})); // not yet gated
    // A dropped pair's gate is zeroed: its output is 0 and its gate's gradient too.
    Operand<T> kept = mm.dtypes.cast(route.kept(), x.type()); // [N, k]
    Operand<T> weighted = mm.math.mul(ySlots, mm.expandDims(mm.math.mul(gates, kept), mm.constant(-1)));
    Operand<T> value = slots ? weighted : mm.reduceSum(weighted, mm.constant(1));

    // The value passes through a node whose gradient (CapacityMatmulGradient) is gathers only; it
    // reads what it needs from the node's inputs, in the order of CapacityMatmulGradient.Input.
    return GradientOverride.withGradient(
            mm,
            CapacityMatmulGradient.NAME,
            new CapacityMatmulGradient.Config(s, c, slots, region.defineBackward(mm, true, x.type())).toRecord().encode(),
            value,
            List.of(
                x,
                w,
                gates,
                mm.stopGradient(ySlots),
                mm.stopGradient(kept),
                mm.stopGradient(route.slotOfPair()),
                mm.stopGradient(route.pairOfRow()),
                mm.stopGradient(mm.dtypes.cast(route.filled(), x.type())),
                mm.stopGradient(route.sourceRow())));
  }

  /** How many of the N*k pairs of {@code ids} [N, k] no expert had room for: a scalar. */
  public Operand<TInt32> droppedPairs(Ops tf, Operand<TInt32> ids, int experts) {
    checkArgument(experts >= 1, "experts must be >= 1, got %s", experts);
    checkArgument(
        ids.shape().numDimensions() == 2 && !ids.shape().hasUnknownDimension(),
        "%s: ids must have a static shape [N, k], got %s",
        WHERE,
        ids.shape());
    Ops mm = tf.withSubScope("capacityDropped");
    Operand<TInt32> zero = mm.constant(0);
    int pairs = Math.toIntExact(ids.shape().size());
    Operand<TInt32> expert = mm.reshape(mm.stopGradient(ExpertIds.checked(mm, ids, experts)), mm.constant(new int[] {pairs}));
    PrefixCounts table = PrefixCounts.of(mm, expert, pairs, experts);
    Operand<TInt32> over = mm.math.maximum(mm.math.sub(table.totals(), mm.constant(capacity(pairs, experts))), zero); // [M]
    return mm.reduceSum(over, zero);
  }

  /**
   * Where each pair goes and what each buffer row reads.
   *
   * @param slotOfPair [N*k] buffer row of each pair; a dropped pair points at its expert's last row
   *     (any valid row: its gate is zeroed)
   * @param kept [N, k] 1 for pairs within their expert's capacity, 0 for dropped ones
   * @param pairOfRow [M*C] the pair each buffer row holds; rows no pair fills hold some valid pair
   *     and are marked by {@code filled}
   * @param filled [M*C] 1 for buffer rows holding a pair, 0 for the rest, whose outputs are never
   *     gathered back
   * @param sourceRow [M*C] row of X each buffer row reads, {@code pairOfRow / k}
   */
  record Routing(
      Operand<TInt32> slotOfPair, Operand<TInt32> kept, Operand<TInt32> pairOfRow, Operand<TInt32> filled, Operand<TInt32> sourceRow) {

    static Routing build(Ops rt, Operand<TInt32> ids, MatmulShapes s, int c) {
      Operand<TInt32> expert = rt.reshape(rt.stopGradient(ids), rt.constant(new int[] {s.pairs()})); // [T]
      return build(rt, expert, PrefixCounts.of(rt, expert, s.pairs(), s.experts()), s, c);
    }

    /**
     * The routing from {@code expert} [N*k] ({@code ids} flattened, without gradient) and its
     * prefix counts, which the spill layout shares with its spill region.
     */
    static Routing build(Ops rt, Operand<TInt32> expert, PrefixCounts table, MatmulShapes s, int c) {
      Operand<TInt32> rank = table.ranks(rt, expert); // [T]
      Operand<TInt32> kept = rt.dtypes.cast(rt.math.less(rank, rt.constant(c)), TInt32.class); // [T]
      Operand<TInt32> slotOfPair =
          rt.math.add(rt.math.mul(expert, rt.constant(c)), rt.math.minimum(rank, rt.constant(c - 1))); // [T]

      // Buffer row e*C + r holds e's pair of rank r, if e has more than r pairs.
      PrefixCounts.RowPairs rows = table.capacityRows(rt, s.experts(), c); // [M*C] each
      Operand<TInt32> sourceRow = rt.gather(Indices.rowOfPair(rt, s), rows.pair(), rt.constant(0)); // [M*C]
      return new Routing(slotOfPair, rt.reshape(kept, rt.constant(new int[] {s.rows(), s.k()})), rows.pair(), rows.held(), sourceRow);
    }
  }
}
