package io.switchhead.ops.moe;

import io.switchhead.ops.AttrRecord;
import io.switchhead.ops.control.CountedLoop;
import io.switchhead.ops.gradients.GradientOverride;
import java.util.List;
import java.util.Optional;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * Backward of {@link CapacityConditionalMatmul}, with gathers only.
 *
 * <p>TensorFlow's own gradient of the forward's gathers is a segment sum, which XLA on the CPU runs
 * as a serial scatter. But each buffer row holds at most one pair, so every gradient is a gather:
 * <ul>
 *   <li>dGates[n, j] = dy[n, j] . ySlots[n, j] for kept pairs, 0 for dropped ones;
 *   <li>dyBuffer = the output gradient of the pair each buffer row holds, times its gate (0 on rows
 *       no pair fills); dxBuffer = dyBuffer W_e^T per expert (W^T transposed once);
 *   <li>dx[n] = the sum over kept slots j of dxBuffer's row of pair (n, j), one gather per slot;
 *   <li>dW^T = dyBuffer^T xBuffer per expert (the input rows gathered again rather than saved), then
 *       transposed: transposing the narrow dyBuffer is cheaper than the wide xBuffer.
 * </ul>
 */
final class CapacityMatmulGradient implements GradientOverride.NodeGradient {

  static final String NAME = "switchhead.CapacityConditionalMatmul";

  /** The tagged node's inputs, in order. */
  enum Input {
    VALUE, X, W, GATES, Y_SLOTS, KEPT, SLOT_OF_PAIR, PAIR_OF_ROW, FILLED, SOURCE_ROW
  }

  /** Static sizes and the capacity region's backward loop (none when it has one group), in the node's config attribute. */
  record Config(MatmulShapes shapes, int capacity, boolean slots, Optional<CountedLoop.Definition> loop) {

    AttrRecord toRecord() {
      return AttrRecord.builder()
          .putRecord("shapes", shapes.toRecord())
          .putInt("capacity", capacity)
          .putBoolean("slots", slots)
          .putOptionalRecord("loop", loop.map(CountedLoop.Definition::toRecord))
          .build();
    }

    static Config fromRecord(AttrRecord r) {
      return new Config(
          MatmulShapes.fromRecord(r.record("shapes")), r.getInt("capacity"), r.getBoolean("slots"), r.optionalRecord("loop").map(CountedLoop.Definition::fromRecord));
    }
  }

  @Override
  public List<Operand<?>> inputGradients(Ops tf, GraphOperation node, List<Output<?>> outputGradients, String config) {
    return gradients(tf.withSubScope("capacityMatmulGrad"), node, outputGradients, Config.fromRecord(AttrRecord.decode(NAME + " config", config)));
  }

  @SuppressWarnings("unchecked")
  private static <T extends TFloating> List<Operand<?>> gradients(
      Ops tf, GraphOperation node, List<Output<?>> outputGradients, Config c) {
    MatmulShapes s = c.shapes();
    Operand<T> dy = (Operand<T>) outputGradients.get(Input.VALUE.ordinal()); // [N, dOut] or [N, k, dOut]
    Operand<T> x = (Operand<T>) TaggedGradients.input(node, Input.X);
    Operand<T> w = (Operand<T>) TaggedGradients.input(node, Input.W);
    Operand<T> kept = (Operand<T>) TaggedGradients.input(node, Input.KEPT); // [N, k], 1 or 0
    Operand<T> keptGates = tf.math.mul((Operand<T>) TaggedGradients.input(node, Input.GATES), kept); // [N, k]
    Operand<TInt32> slotOfPair = tf.reshape((Operand<TInt32>) TaggedGradients.input(node, Input.SLOT_OF_PAIR), tf.constant(new int[] {s.rows(), s.k()}));

    Operand<T> dySlots = c.slots() ? dy : tf.expandDims(dy, tf.constant(1)); // [N, k or 1, dOut]
    Operand<T> dGates = tf.math.mul(tf.reduceSum(tf.math.mul((Operand<T>) TaggedGradients.input(node, Input.Y_SLOTS), dySlots), tf.constant(-1)), kept);

    Operand<T> dyPair =
        tf.reshape(tf.math.mul(dySlots, tf.expandDims(keptGates, tf.constant(-1))), tf.constant(new int[] {s.pairs(), s.dOut()}));
    CapacityRegion.Gradients<T> region =
        CapacityRegion.of(s, c.capacity())
            .gradients(
                tf,
                c.loop(),
                dyPair,
                (Operand<TInt32>) TaggedGradients.input(node, Input.PAIR_OF_ROW),
                (Operand<T>) TaggedGradients.input(node, Input.FILLED),
                x,
                tf.linalg.transpose(w, tf.constant(new int[] {0, 2, 1})),
                (Operand<TInt32>) TaggedGradients.input(node, Input.SOURCE_ROW));
    Operand<T> dx = CapacityRegion.gatherBack(tf, region.dxBuffer(), slotOfPair, kept, s.k()); // [N, dIn]

    Operand<T> dw = tf.linalg.transpose(region.dwTransposed(), tf.constant(new int[] {0, 2, 1}));

    return TaggedGradients.of(Input.values(), Input.X, dx, Input.W, dw, Input.GATES, dGates);
  }
}
