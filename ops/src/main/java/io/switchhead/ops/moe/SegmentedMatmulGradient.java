package io.switchhead.ops.moe;

import io.switchhead.ops.AttrRecord;
import io.switchhead.ops.gradients.GradientOverride;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.OperationBuilder;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Unstack;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The backward pass of {@link SegmentedConditionalMatmul} that keeps only what the layer was given.
 *
 * <p>TensorFlow's own gradients of the forward ops would keep every expert's segment of the sorted
 * input rows (k copies of X, one per slot) and the slot outputs the gates multiply, for the whole
 * of the backward pass. This gradient gathers the sorted rows again when it runs and gets the
 * gates' gradient without the slot outputs: {@code <dOut, g x W> / g = <dOut W^T, x>}, and
 * {@code dOut W^T} is the product the input gradient needs anyway. What it keeps is X, W, the gates
 * and the routing's int32 indices; the matmuls are the same two per expert as TensorFlow's.
 */
final class SegmentedMatmulGradient implements GradientOverride.NodeGradient {

  static final String NAME = "switchhead.SegmentedConditionalMatmul";

  /** The tagged node's inputs, in order. */
  enum Input {
    VALUE, X, W, GATES, SEGMENT_PAIRS, SEGMENT_ROWS, SEGMENT_SIZES, PAIR_POSITIONS, SEGMENT_GATES
  }

  /**
   * The tagged node's configuration: the expert count, which the segment splits need statically,
   * dIn and dOut (a gradient may not read an operand's static shape: see OpGradient), and whether
   * the segments hold pad rows ({@link ExpertSegments#padded}).
   */
  static String config(int experts, int dIn, int dOut, boolean padded) {
    return AttrRecord.builder().putInt("experts", experts).putInt("dIn", dIn).putInt("dOut", dOut).putBoolean("padded", padded).build()
        .encode();
  }

  @Override
  public List<Operand<?>> inputGradients(Ops tf, GraphOperation node, List<Output<?>> outputGradients, String config) {
    AttrRecord r = AttrRecord.decode(NAME + " config", config);
    return gradients(tf.withSubScope("segmentedMatmulGrad"), node, outputGradients, r.getInt("experts"), r.getInt("dIn"), r.getInt("dOut"),
        r.getBoolean("padded"));
  }

  @SuppressWarnings("unchecked")
  private static <T extends TFloating> List<Operand<?>> gradients(Ops tf, GraphOperation node, List<Output<?>> outputGradients,
      int experts, int dInWidth, int dOutWidth, boolean padded) {
    Operand<T> dOut = (Operand<T>) outputGradients.get(Input.VALUE.ordinal()); // [N, k, dOut]
    Operand<T> x = (Operand<T>) TaggedGradients.input(node, Input.X); // [N, dIn]
    Operand<T> w = (Operand<T>) TaggedGradients.input(node, Input.W); // [M, dIn, dOut]
    Operand<T> gates = (Operand<T>) TaggedGradients.input(node, Input.GATES); // [N, k]
    // The forward's ExpertSegments: S segment rows, pads among them with gate 0.
    ExpertSegments<T> segments = new ExpertSegments<>((Operand<TInt32>) TaggedGradients.input(node, Input.SEGMENT_PAIRS),
        (Operand<TInt32>) TaggedGradients.input(node, Input.SEGMENT_ROWS), (Operand<TInt32>) TaggedGradients.input(node, Input.SEGMENT_SIZES),
        (Operand<TInt32>) TaggedGradients.input(node, Input.PAIR_POSITIONS), (Operand<T>) TaggedGradients.input(node, Input.SEGMENT_GATES),
        padded);
    Operand<TInt32> rows = segments.rows(); // [S]
    Operand<TInt32> axis0 = tf.constant(0);

    Operand<T> dSegmented = tf.gather(tf.reshape(dOut, tf.constant(new int[] {-1, dOutWidth})), segments.pairs(), axis0); // [S, dOut]
    Operand<T> g = tf.expandDims(segments.gates(), tf.constant(-1)); // [S, 1]
    Operand<T> xSegmented = gatherAfter(tf, x, rows, dOut); // [S, dIn]
    Operand<T> dySegmented = tf.math.mul(dSegmented, g); // the gradient of the unweighted products, 0 on pads

    List<Operand<T>> xSegments = segments.split(tf, xSegmented, dInWidth, experts);
    List<Operand<T>> dSegments = segments.split(tf, dSegmented, dOutWidth, experts);
    List<Operand<T>> dySegments = segments.split(tf, dySegmented, dOutWidth, experts);
    List<Output<T>> weights = tf.unstack(w, (long) experts, Unstack.axis(0L)).output();
    List<Operand<T>> unweighted = new ArrayList<>(); // dOut W^T per segment, [size_e, dIn]
    List<Operand<T>> dw = new ArrayList<>();
    for (int e = 0; e < experts; e++) {
      unweighted.add(tf.linalg.matMul(dSegments.get(e), weights.get(e), MatMul.transposeB(true)));
      dw.add(tf.linalg.matMul(xSegments.get(e), dySegments.get(e), MatMul.transposeA(true))); // [dIn, dOut]
    }
    Operand<T> u = tf.concat(unweighted, axis0); // [S, dIn]
    Operand<T> dxSegmented = tf.math.mul(u, g); // 0 on pads
    Operand<TInt32> xRows = tf.gather(tf.shape(x), tf.constant(0), axis0);
    Operand<T> dx = tf.math.unsortedSegmentSum(dxSegmented, rows, xRows); // [N, dIn]
    Operand<T> dgSegmented = tf.reduceSum(tf.math.mul(u, xSegmented), tf.constant(-1)); // [S]
    Operand<T> dGates = tf.reshape(tf.gather(dgSegmented, segments.pairPositions(), axis0), tf.shape(gates)); // [N, k]
    return TaggedGradients.of(Input.values(), Input.X, dx, Input.W, tf.stack(dw), Input.GATES, dGates);
  }

  /**
   * {@code gather(x, rows)} once {@code after} exists. Without the control edge TensorFlow would
   * gather as soon as x is ready, in the forward pass, and hold the copy until the backward. Built
   * with an explicit control input: in a gradient function, {@code Ops.withControlDependencies}
   * adds none (TensorFlow Java 1.1.0's native scope drops them).
   */
  @SuppressWarnings("unchecked")
  private static <T extends TFloating> Operand<T> gatherAfter(Ops tf, Operand<T> x, Operand<TInt32> rows, Operand<?> after) {
    OperationBuilder gather = tf.scope().opBuilder("GatherV2", "RegatherRows")
        .addInput(x.asOutput()).addInput(rows.asOutput()).addInput(tf.constant(0).asOutput())
        .addControlInput(after.op());
    return (Operand<T>) (Operand<?>) gather.build().output(0);
  }
}
