package io.switchhead.graph.layers;

import static com.google.common.base.Preconditions.checkArgument;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.family.TFloating;

/** Small helpers every layer uses. */
final class Layers {

  private Layers() {}

  /** A scalar constant in the model's float type (layers never hard-code float32). */
  static <T extends TFloating> Operand<T> scalar(Ops tf, double value, Class<T> type) {
    return tf.dtypes.cast(tf.constant(value), type);
  }

  /** T of an input [B, T, D], which must be static: layers reshape with it. */
  static int steps(Operand<?> x) {
    long steps = x.shape().numDimensions() == 3 ? x.shape().get(1) : -1;
    checkArgument(steps >= 1, "a layer input must be [B, T, D] with a static T, got %s", x.shape());
    return (int) steps;
  }
}
