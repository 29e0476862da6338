package io.switchhead.ops.gradients;

import java.util.List;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;

/**
 * A Java gradient for one TensorFlow op type that has no C++ gradient.
 *
 * <p>Rules every implementation follows, because TensorFlow Java 1.1.0 breaks otherwise:
 * <ul>
 *   <li>never call {@code Operand.shape()} on anything: inside a gradient it deadlocks on the graph
 *       lock; build shapes with {@code tf.shape(..)} ops instead;
 *   <li>return one entry per op input; {@code null} marks an input without a gradient and is replaced
 *       by zeros by {@link CustomGradients} (a {@code null} reaching TensorFlow throws).
 * </ul>
 */
public interface OpGradient {

  /** The op type this gradient is for, e.g. {@code "TopKV2"}. */
  String opType();

  /**
   * Gradients of the op's inputs.
   *
   * @param tf ops in the gradient's scope
   * @param op the forward op
   * @param outputGradients the gradients arriving at each of the op's outputs, in output order
   */
  List<Operand<?>> inputGradients(Ops tf, GraphOperation op, List<Output<?>> outputGradients);
}
