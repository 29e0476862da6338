package io.switchhead.graph.layers;

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
}
