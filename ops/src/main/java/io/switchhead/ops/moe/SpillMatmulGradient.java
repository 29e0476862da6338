package io.switchhead.ops.moe;

import io.switchhead.ops.AttrRecord;
import io.switchhead.ops.control.CountedLoop;
import io.switchhead.ops.control.CountedLoop.Spec;
import io.switchhead.ops.gradients.GradientOverride;
import java.util.List;
import java.util.Optional;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * Backward of {@link SpillConditionalMatmul}. The capacity region's, as in {@link
 * CapacityMatmulGradient} ({@link CapacityRegion#gradients}): its dx rows gathered back to the
 * pairs it holds give dx's start, and its dW^T the sums' start. Then the spill region's loop, with
 * the block layout's per-group gradients ({@link SortedMatmulGradient}), scatter-adds each group's
 * dx rows into the rows of x they read and its blocks' dW^T into their experts' sums: no buffer
 * sized for the spill's worst case is written or zeroed.
 */
final class SpillMatmulGradient implements GradientOverride.NodeGradient {

  static final String NAME = "switchhead.SpillConditionalMatmul";

  /** The tagged node's inputs, in order. */
  enum Input {
    VALUE, X, W, GATES, Y_SLOTS, IN_CAPACITY, CAPACITY_POS, CAPACITY_GATE, CAPACITY_PAIR, CAPACITY_SOURCE,
    SPILL_GATE, SPILL_PAIR, SPILL_SOURCE, SPILL_EXPERT, SPILL_USED_GROUPS
  }

  /**
   * The capacity C, the capacity region's backward loop (none when it has one group) and the spill
   * region's block configuration (with its loop), in the node's config attribute.
   */
  record Config(int capacity, Optional<CountedLoop.Definition> capacityLoop, SortedMatmulGradient.Config spill) {

    AttrRecord toRecord() {
      return AttrRecord.builder()
          .putInt("capacity", capacity)
          .putOptionalRecord("capacityLoop", capacityLoop.map(CountedLoop.Definition::toRecord))
          .putRecord("spill", spill.toRecord())
          .build();
    }

    static Config fromRecord(AttrRecord r) {
      return new Config(
          r.getInt("capacity"), r.optionalRecord("capacityLoop").map(CountedLoop.Definition::fromRecord), SortedMatmulGradient.Config.fromRecord(r.record("spill")));
    }
  }

  /**
   * Defines the spill region's backward loop in the graph of {@code tf}; the forward calls this,
   * because loops cannot be defined inside a gradient ({@link CountedLoop}). Its invariants are
   * the block layout's ({@link SortedMatmulGradient#loopInvariants}); it carries dx [N, dIn] and
   * the experts' sums of dW^T [M, dOut, dIn], and adds each group's share to them: the group's dx
   * rows to the rows of x they read (padding rows add zero: their gate is 0).
   */
  @SuppressWarnings("unchecked")
  static <T extends TFloating> CountedLoop.Definition defineLoop(Ops tf, MatmulShapes s, BlockLayout layout, boolean slots, Class<T> type) {
    return CountedLoop.define(
        tf,
        "spillMatmulBackward",
        SortedMatmulGradient.loopInvariantSpecs(s, layout, slots, type),
        List.of(new Spec(type, Shape.of(s.rows(), s.dIn())), new Spec(type, Shape.of(s.experts(), s.dOut(), s.dIn()))),
        (ops, i, in, acc) -> {
          SortedMatmulGradient.GroupGradients<T> group = SortedMatmulGradient.groupGradients(ops, i, in, s, layout);
          Operand<TInt32> sources =
              Indices.groupRow(ops, (Operand<TInt32>) in.get(SortedMatmulGradient.LoopInput.GROUP_SOURCES.ordinal()), i);
          return List.of(
              ops.tensorScatterNdAdd((Operand<T>) acc.get(0), ops.expandDims(sources, ops.constant(1)), group.dx()),
              ops.tensorScatterNdAdd((Operand<T>) acc.get(1), ops.expandDims(group.experts(), ops.constant(1)), group.dwTransposed()));
        });
  }

  @Override
  public List<Operand<?>> inputGradients(Ops tf, GraphOperation node, List<Output<?>> outputGradients, String config) {
    return gradients(tf.withSubScope("spillMatmulGrad"), node, outputGradients, Config.fromRecord(AttrRecord.decode(NAME + " config", config)));
  }

  @SuppressWarnings("unchecked")
  private static <T extends TFloating> List<Operand<?>> gradients(Ops tf, GraphOperation node, List<Output<?>> outputGradients, Config c) {
    SortedMatmulGradient.Config block = c.spill();
    MatmulShapes s = block.shapes();
    boolean slots = block.slots();
    Operand<T> dy = (Operand<T>) outputGradients.get(Input.VALUE.ordinal()); // [N, dOut] or [N, k, dOut]
    Operand<T> x = (Operand<T>) TaggedGradients.input(node, Input.X);

    Operand<T> dySlots = slots ? dy : tf.expandDims(dy, tf.constant(1)); // [N, k or 1, dOut]
    Operand<T> dGates = tf.reduceSum(tf.math.mul((Operand<T>) TaggedGradients.input(node, Input.Y_SLOTS), dySlots), tf.constant(-1)); // [N, k]
    // Each buffer row's output gradient: slot outputs are indexed by pair, the summed output by row.
    Operand<T> dySource = slots ? tf.reshape(dy, tf.constant(new int[] {s.pairs(), s.dOut()})) : dy;

    // Capacity region: batched matmuls with W as it is.
    Operand<T> wTransposed = tf.linalg.transpose((Operand<T>) TaggedGradients.input(node, Input.W), tf.constant(new int[] {0, 2, 1})); // [M, dOut, dIn]
    CapacityRegion.Gradients<T> capacity =
        CapacityRegion.of(s, c.capacity())
            .gradients(
                tf,
                c.capacityLoop(),
                dySource,
                (Operand<TInt32>) TaggedGradients.input(node, slots ? Input.CAPACITY_PAIR : Input.CAPACITY_SOURCE),
                (Operand<T>) TaggedGradients.input(node, Input.CAPACITY_GATE),
                x,
                wTransposed,
                (Operand<TInt32>) TaggedGradients.input(node, Input.CAPACITY_SOURCE));

    // dx starts from the capacity region's rows, gathered back to the pairs in it.
    Operand<T> dxStart =
        CapacityRegion.gatherBack(
            tf,
            capacity.dxBuffer(),
            (Operand<TInt32>) TaggedGradients.input(node, Input.CAPACITY_POS),
            (Operand<T>) TaggedGradients.input(node, Input.IN_CAPACITY),
            s.k()); // [N, dIn]

    // Spill region: the loop adds each group's dx rows and dW^T into those sums.
    List<Operand<?>> invariants =
        SortedMatmulGradient.loopInvariants(
            tf,
            block.layout(),
            dySource,
            (Operand<TInt32>) TaggedGradients.input(node, slots ? Input.SPILL_PAIR : Input.SPILL_SOURCE),
            (Operand<T>) TaggedGradients.input(node, Input.SPILL_GATE),
            x,
            wTransposed,
            (Operand<TInt32>) TaggedGradients.input(node, Input.SPILL_SOURCE),
            (Operand<TInt32>) TaggedGradients.input(node, Input.SPILL_EXPERT));
    List<Output<?>> sums =
        CountedLoop.call(
            tf,
            block.loop().orElseThrow(),
            (Operand<TInt32>) TaggedGradients.input(node, Input.SPILL_USED_GROUPS),
            block.layout().groups(),
            invariants,
            List.of(dxStart, capacity.dwTransposed()));
    Operand<T> dx = (Operand<T>) sums.get(0);
    Operand<T> dw = tf.linalg.transpose((Operand<T>) sums.get(1), tf.constant(new int[] {0, 2, 1})); // [M, dIn, dOut]

    return TaggedGradients.of(Input.values(), Input.X, dx, Input.W, dw, Input.GATES, dGates);
  }
}
