package io.switchhead.ops.moe;

import io.switchhead.ops.BatchMatmulV2;
import io.switchhead.ops.control.CountedLoop;
import io.switchhead.ops.control.CountedLoop.Spec;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The matmuls of a buffer of C rows per expert (the capacity layout's, and the spill layout's
 * capacity region): row e*C + r reads a row of x and is multiplied by expert e's weights, which
 * are used as they are, never copied per row.
 *
 * <p>Past {@link MoeTuning#CAPACITY_REGION_SINGLE_GROUP_MAX_ROWS} buffer rows the experts are taken
 * in groups of about {@link MoeTuning#LOOP_GROUP_ROWS} rows, one loop iteration each, so that a
 * group's gathered rows are still in cache when its matmul reads them; under XLA on the CPU that is
 * faster than one batched matmul over the whole buffer, which first gathers all of it
 * (docs/benchmarks/conditional-matmul.md). The backward loops too only for large capacities
 * ({@link #backwardLoops}).
 *
 * @param experts M
 * @param capacity C
 * @param groupExperts experts per loop iteration, a divisor of M; M when there is no loop
 */
record CapacityRegion(MatmulShapes shapes, int capacity, int groupExperts) {

  /**
   * The region for these shapes: groups of the divisor of M closest to {@link
   * MoeTuning#LOOP_GROUP_ROWS} rows.
   */
  static CapacityRegion of(MatmulShapes s, int capacity) {
    int m = s.experts();
    if ((long) m * capacity <= MoeTuning.CAPACITY_REGION_SINGLE_GROUP_MAX_ROWS) {
      return new CapacityRegion(s, capacity, m);
    }
    int target = MoeTuning.LOOP_GROUP_ROWS;
    int best = 1;
    for (int g = 2; g <= m; g++) {
      if (m % g == 0 && Math.abs((long) g * capacity - target) < Math.abs((long) best * capacity - target)) {
        best = g;
      }
    }
    return new CapacityRegion(s, capacity, best);
  }

  int groups() {
    return shapes.experts() / groupExperts;
  }

  int groupRows() {
    return groupExperts * capacity;
  }

  int rows() {
    return shapes.experts() * capacity;
  }

  /** The buffer's outputs, [M*C, dOut], for the rows of x at {@code sourceRow} [M*C]. */
  @SuppressWarnings("unchecked")
  <T extends TFloating> Operand<T> outputs(Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> sourceRow) {
    MatmulShapes s = shapes;
    List<Operand<?>> inputs = List.of(x, byGroup(tf, w, s.dIn(), s.dOut()), byGroup(tf, sourceRow));
    if (groups() == 1) {
      return tf.reshape(groupOutputs(tf, tf.constant(0), inputs), tf.constant(new int[] {rows(), s.dOut()}));
    }
    CountedLoop.Definition loop =
        CountedLoop.define(
            tf,
            "capacityForward",
            inputs.stream().map(Spec::of).toList(),
            List.of(new Spec(x.type(), Shape.of(groups(), groupRows(), s.dOut()))),
            (ops, i, in, carried) -> List.of(updated(ops, (Operand<T>) carried.get(0), i, groupOutputs(ops, i, in))));
    Operand<T> empty = tf.zeros(tf.constant(new int[] {groups(), groupRows(), s.dOut()}), x.type());
    return tf.reshape(
        (Operand<T>) CountedLoop.call(tf, loop, tf.constant(groups()), groups(), inputs, List.of(empty)).get(0),
        tf.constant(new int[] {rows(), s.dOut()}));
  }

  /** Group i's outputs [G*C, dOut]; {@code in}: x, W by group, source rows by group. */
  @SuppressWarnings("unchecked")
  private <T extends TFloating> Operand<T> groupOutputs(Ops ops, Operand<TInt32> i, List<Operand<?>> in) {
    MatmulShapes s = shapes;
    Operand<T> xs = ops.reshape(gatherRows(ops, (Operand<T>) in.get(0), (Operand<TInt32>) in.get(2), i), ops.constant(new int[] {groupExperts, capacity, s.dIn()}));
    Operand<T> ws = ops.reshape(ops.gather((Operand<T>) in.get(1), i, ops.constant(0)), ops.constant(new int[] {groupExperts, s.dIn(), s.dOut()}));
    return ops.reshape(BatchMatmulV2.of(ops, xs, ws, false, false), ops.constant(new int[] {groupRows(), s.dOut()}));
  }

  /** dx of the buffer's rows, [M*C, dIn], and dW^T, [M, dOut, dIn]. */
  record Gradients<T extends TFloating>(Operand<T> dxBuffer, Operand<T> dwTransposed) {}

  /**
   * Whether the backward loops over the groups too: only when each expert holds more than {@link
   * MoeTuning#CAPACITY_BACKWARD_LOOP_ABOVE_CAPACITY} rows.
   */
  boolean backwardLoops() {
    return groups() > 1 && capacity > MoeTuning.CAPACITY_BACKWARD_LOOP_ABOVE_CAPACITY;
  }

  /** The types and shapes of the backward loop's invariants: see {@link #gradients}. */
  private List<Spec> backwardSpecs(boolean slots, Class<? extends TFloating> type) {
    MatmulShapes s = shapes;
    return List.of(
        new Spec(type, Shape.of(slots ? s.pairs() : s.rows(), s.dOut())),
        new Spec(TInt32.class, Shape.of(groups(), groupRows())),
        new Spec(type, Shape.of(groups(), groupRows())),
        new Spec(type, Shape.of(s.rows(), s.dIn())),
        new Spec(type, Shape.of(groups(), groupExperts * s.dOut(), s.dIn())),
        new Spec(TInt32.class, Shape.of(groups(), groupRows())));
  }

  /**
   * Defines the backward loop in the graph of {@code tf}, when the region has one: the forward
   * calls this, because loops cannot be defined inside a gradient ({@link CountedLoop}).
   */
  @SuppressWarnings("unchecked")
  <T extends TFloating> Optional<CountedLoop.Definition> defineBackward(Ops tf, boolean slots, Class<T> type) {
    if (!backwardLoops()) {
      return Optional.empty();
    }
    MatmulShapes s = shapes;
    return Optional.of(
        CountedLoop.define(
            tf,
            "capacityBackward",
            backwardSpecs(slots, type),
            List.of(new Spec(type, Shape.of(groups(), groupRows(), s.dIn())), new Spec(type, Shape.of(groups(), groupExperts * s.dOut(), s.dIn()))),
            (ops, i, in, acc) -> {
              Gradients<T> group = groupGradients(ops, i, in);
              return List.of(updated(ops, (Operand<T>) acc.get(0), i, group.dxBuffer()), updated(ops, (Operand<T>) acc.get(1), i, group.dwTransposed()));
            }));
  }

  /**
   * The backward of the buffer's matmuls.
   *
   * @param loop from {@link #defineBackward}
   * @param dySource output gradient rows, read at {@code dyIndex} [M*C]
   * @param rowGate [M*C] each row's gate, 0 on rows no pair fills
   * @param wTransposed [M, dOut, dIn]
   * @param sourceRow [M*C] the row of x each buffer row reads
   */
  @SuppressWarnings("unchecked")
  <T extends TFloating> Gradients<T> gradients(
      Ops tf,
      Optional<CountedLoop.Definition> loop,
      Operand<T> dySource,
      Operand<TInt32> dyIndex,
      Operand<T> rowGate,
      Operand<T> x,
      Operand<T> wTransposed,
      Operand<TInt32> sourceRow) {
    if (loop.isEmpty() && groups() > 1) {
      // The backward in one piece (see backwardLoops).
      return new CapacityRegion(shapes, capacity, shapes.experts()).gradients(tf, loop, dySource, dyIndex, rowGate, x, wTransposed, sourceRow);
    }
    MatmulShapes s = shapes;
    List<Operand<?>> invariants =
        List.of(dySource, byGroup(tf, dyIndex), byGroup(tf, rowGate), x, byGroup(tf, wTransposed, s.dOut(), s.dIn()), byGroup(tf, sourceRow));
    Operand<T> dx;
    Operand<T> dwT;
    if (loop.isEmpty()) {
      Gradients<T> all = groupGradients(tf, tf.constant(0), invariants);
      dx = all.dxBuffer();
      dwT = all.dwTransposed();
    } else {
      List<Operand<?>> initial =
          List.of(
              tf.zeros(tf.constant(new int[] {groups(), groupRows(), s.dIn()}), x.type()),
              tf.zeros(tf.constant(new int[] {groups(), groupExperts * s.dOut(), s.dIn()}), x.type()));
      List<Output<?>> sums = CountedLoop.call(tf, loop.get(), tf.constant(groups()), groups(), invariants, initial);
      dx = (Operand<T>) sums.get(0);
      dwT = (Operand<T>) sums.get(1);
    }
    return new Gradients<>(
        tf.reshape(dx, tf.constant(new int[] {rows(), s.dIn()})), tf.reshape(dwT, tf.constant(new int[] {s.experts(), s.dOut(), s.dIn()})));
  }

  /** Group i's dx rows [G*C, dIn] and dW^T [G*dOut, dIn]; {@code in} as {@link #backwardSpecs}. */
  @SuppressWarnings("unchecked")
  private <T extends TFloating> Gradients<T> groupGradients(Ops ops, Operand<TInt32> i, List<Operand<?>> in) {
    MatmulShapes s = shapes;
    Operand<TInt32> axis0 = ops.constant(0);
    Operand<T> gate = ops.gather((Operand<T>) in.get(2), i, axis0); // [G*C]
    Operand<T> dy =
        ops.reshape(
            ops.math.mul(gatherRows(ops, (Operand<T>) in.get(0), (Operand<TInt32>) in.get(1), i), ops.expandDims(gate, ops.constant(-1))),
            ops.constant(new int[] {groupExperts, capacity, s.dOut()}));
    Operand<T> wT = ops.reshape(ops.gather((Operand<T>) in.get(4), i, axis0), ops.constant(new int[] {groupExperts, s.dOut(), s.dIn()}));
    Operand<T> dx = ops.reshape(BatchMatmulV2.of(ops, dy, wT, false, false), ops.constant(new int[] {groupRows(), s.dIn()}));
    Operand<T> xs = ops.reshape(gatherRows(ops, (Operand<T>) in.get(3), (Operand<TInt32>) in.get(5), i), ops.constant(new int[] {groupExperts, capacity, s.dIn()}));
    Operand<T> dwT = ops.reshape(BatchMatmulV2.of(ops, dy, xs, true, false), ops.constant(new int[] {groupExperts * s.dOut(), s.dIn()}));
    return new Gradients<>(dx, dwT);
  }

  /**
   * dx [N, dIn] of the pairs the buffer holds: dx[n] = the sum over slots j of {@code dxBuffer}'s
   * row {@code pos[n, j]} times {@code held[n, j]} (1 for pairs in the buffer, 0 for the others).
   * One gather per slot, added, which XLA fuses into one pass.
   */
  static <T extends TFloating> Operand<T> gatherBack(Ops tf, Operand<T> dxBuffer, Operand<TInt32> pos, Operand<T> held, int k) {
    Operand<TInt32> axis1 = tf.constant(1);
    List<Operand<T>> perSlot = new ArrayList<>();
    for (int j = 0; j < k; j++) {
      Operand<TInt32> slot = tf.constant(j);
      perSlot.add(
          tf.math.mul(tf.gather(dxBuffer, tf.gather(pos, slot, axis1), tf.constant(0)), tf.expandDims(tf.gather(held, slot, axis1), tf.constant(-1))));
    }
    return perSlot.size() == 1 ? perSlot.get(0) : tf.math.addN(perSlot);
  }

  /** The rows of {@code source} at row i of the [groups, G*C] index matrix. */
  private static <T extends TFloating> Operand<T> gatherRows(Ops ops, Operand<T> source, Operand<TInt32> index, Operand<TInt32> i) {
    return ops.gather(source, ops.gather(index, i, ops.constant(0)), ops.constant(0));
  }

  /** {@code all} [groups, ...] with slice i replaced by {@code group}. */
  private static <T extends TFloating> Operand<T> updated(Ops ops, Operand<T> all, Operand<TInt32> i, Operand<T> group) {
    return ops.tensorScatterNdUpdate(all, ops.reshape(i, ops.constant(new int[] {1, 1})), ops.expandDims(group, ops.constant(0)));
  }

  /** A per-row vector [M*C] as [groups, G*C]. */
  private <U extends org.tensorflow.types.family.TType> Operand<U> byGroup(Ops tf, Operand<U> v) {
    return tf.reshape(v, tf.constant(new int[] {groups(), groupRows()}));
  }

  /** Per-expert matrices [M, a, b] as [groups, G*a, b]. */
  private <T extends TFloating> Operand<T> byGroup(Ops tf, Operand<T> perExpert, int a, int b) {
    return tf.reshape(perExpert, tf.constant(new int[] {groups(), groupExperts * a, b}));
  }
}
