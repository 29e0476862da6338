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
    VALUE, X, W, GATES, ORDER, SORTED_ROWS, COUNTS
  }

  /**
   * The tagged node's configuration: the expert count, which the segment splits need statically,
   * and dOut (a gradient may not read an operand's static shape: see OpGradient).
   */
  static String config(int experts, int dOut) {
    return AttrRecord.builder().putInt("experts", experts).putInt("dOut", dOut).build().encode();
  }

  @Override
  public List<Operand<?>> inputGradients(Ops tf, GraphOperation node, List<Output<?>> outputGradients, String config) {
    AttrRecord r = AttrRecord.decode(NAME + " config", config);
    return gradients(tf.withSubScope("segmentedMatmulGrad"), node, outputGradients, r.getInt("experts"), r.getInt("dOut"));
  }

  @SuppressWarnings("unchecked")
  private static <T extends TFloating> List<Operand<?>> gradients(Ops tf, GraphOperation node, List<Output<?>> outputGradients,
      int experts, int dOutWidth) {
    Operand<T> dOut = (Operand<T>) outputGradients.get(Input.VALUE.ordinal()); // [N, k, dOut]
    Operand<T> x = (Operand<T>) TaggedGradients.input(node, Input.X); // [N, dIn]
    Operand<T> w = (Operand<T>) TaggedGradients.input(node, Input.W); // [M, dIn, dOut]
    Operand<T> gates = (Operand<T>) TaggedGradients.input(node, Input.GATES); // [N, k]
    Operand<TInt32> order = (Operand<TInt32>) TaggedGradients.input(node, Input.ORDER); // [P] pair of each sorted position
    Operand<TInt32> sortedRows = (Operand<TInt32>) TaggedGradients.input(node, Input.SORTED_ROWS); // [P]
    Operand<TInt32> counts = (Operand<TInt32>) TaggedGradients.input(node, Input.COUNTS); // [M]
    Operand<TInt32> axis0 = tf.constant(0);

    Operand<T> dSorted = tf.gather(tf.reshape(dOut, tf.constant(new int[] {-1, dOutWidth})), order, axis0); // [P, dOut]
    Operand<T> gSorted = tf.expandDims(tf.gather(tf.reshape(gates, tf.constant(new int[] {-1})), order, axis0), tf.constant(-1)); // [P, 1]
    Operand<T> xSorted = gatherAfter(tf, x, sortedRows, dOut); // [P, dIn]
    Operand<T> dySorted = tf.math.mul(dSorted, gSorted); // the gradient of the unweighted products

    List<Output<T>> xSegments = tf.splitV(xSorted, counts, axis0, (long) experts).output();
    List<Output<T>> dSegments = tf.splitV(dSorted, counts, axis0, (long) experts).output();
    List<Output<T>> dySegments = tf.splitV(dySorted, counts, axis0, (long) experts).output();
    List<Output<T>> weights = tf.unstack(w, (long) experts, Unstack.axis(0L)).output();
    List<Operand<T>> unweighted = new ArrayList<>(); // dOut W^T per segment, [count_e, dIn]
    List<Operand<T>> dw = new ArrayList<>();
    for (int e = 0; e < experts; e++) {
      unweighted.add(tf.linalg.matMul(dSegments.get(e), weights.get(e), MatMul.transposeB(true)));
      dw.add(tf.linalg.matMul(xSegments.get(e), dySegments.get(e), MatMul.transposeA(true))); // [dIn, dOut]
    }
    Operand<T> u = tf.concat(unweighted, axis0); // [P, dIn]
    Operand<T> dxSorted = tf.math.mul(u, gSorted);
    Operand<TInt32> rows = tf.gather(tf.shape(x), tf.constant(0), axis0);
    Operand<T> dx = tf.math.unsortedSegmentSum(dxSorted, sortedRows, rows); // [N, dIn]
    Operand<T> dgSorted = tf.reduceSum(tf.math.mul(u, xSorted), tf.constant(-1)); // [P]
    Operand<T> dGates = tf.reshape(tf.gather(dgSorted, tf.math.invertPermutation(order), axis0), tf.shape(gates)); // [N, k]
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
