package io.switchhead.ops;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.family.TFloating;

/**
 * The gradient through a kept-or-zeroed mask (dropout, ReLU): {@code dy * cast(mask)}, the product
 * TensorFlow's own gradients of those ops compute. A select of dy against a ZerosLike took 3.4 to 4.2
 * times as long on CPU for a [512, 2080] feed-forward activation (docs/benchmarks/compare.md, eighth pass).
 *
 * <p>The cast waits for dy: it reads only the mask, which the forward pass makes, so TensorFlow
 * would otherwise run it at once and hold its floats (four bytes an element, where the mask is one)
 * for the whole backward pass. Built with an explicit control input: in a gradient function, {@code
 * Ops.withControlDependencies} adds none (TensorFlow Java 1.1.0's native scope drops them).
 */
final class MaskGradient {

  private MaskGradient() {}

  /** {@code dy * cast(mask)}, the cast made only once dy exists. */
  static <T extends TFloating> Operand<T> times(Ops tf, Operand<T> dy, Operand<TBool> mask) {
    return tf.math.mul(dy, castAfter(tf, mask, dy));
  }

  /** {@code dy * (cast(mask) * scale)}, the cast made only once dy exists. */
  static <T extends TFloating> Operand<T> times(Ops tf, Operand<T> dy, Operand<TBool> mask, Operand<T> scale) {
    return tf.math.mul(dy, tf.math.mul(castAfter(tf, mask, dy), scale));
  }

  @SuppressWarnings("unchecked")
  private static <T extends TFloating> Operand<T> castAfter(Ops tf, Operand<TBool> mask, Operand<T> after) {
    return (Operand<T>) (Operand<?>) tf.scope().opBuilder("Cast", "MaskAfterGradient")
        .addInput(mask.asOutput())
        .setAttr("DstT", after.asOutput().dataType())
        .addControlInput(after.op())
        .build()
        .output(0);
  }
}
