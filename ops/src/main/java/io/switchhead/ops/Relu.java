package io.switchhead.ops;

import io.switchhead.ops.gradients.GradientOverride;
import java.util.Arrays;
import java.util.List;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.family.TFloating;

/**
 * max(x, 0), whose gradient keeps only where the output is positive, a byte an element.
 * TensorFlow's C++ Relu gradient reads the op's input, so the pre-activation (four bytes an
 * element, the widest tensor of a feed-forward block) would stay for the whole backward pass beside
 * the output the next layer keeps anyway.
 */
public final class Relu {

  /** The gradient's name in {@link GradientOverride}. */
  static final String GRADIENT = "switchhead.Relu";

  /** The tagged node's inputs, in order. */
  private enum Input {
    VALUE, X
  }

  static {
    GradientOverride.define(GRADIENT, Relu::gradient);
  }

  private Relu() {}

  public static <T extends TFloating> Operand<T> apply(Ops tf, Operand<T> x) {
    return GradientOverride.withGradient(tf, GRADIENT, "", tf.nn.relu(x), List.of(x));
  }

  /**
   * dx = dy where the output is positive, else 0. The sign is read from the output while it exists,
   * as soon as it is made (the comparison needs nothing from the backward), so what the backward
   * holds is the booleans.
   */
  @SuppressWarnings("unchecked")
  private static List<Operand<?>> gradient(Ops tf, GraphOperation node, List<Output<?>> outputGradients, String config) {
    return whereSign(tf.withSubScope("reluGrad"), (Operand<TFloating>) (Operand<?>) outputGradients.get(Input.VALUE.ordinal()),
        (Operand<TFloating>) (Operand<?>) node.input(Input.VALUE.ordinal()));
  }

  private static <T extends TFloating> List<Operand<?>> whereSign(Ops tf, Operand<T> dy, Operand<T> y) {
    Operand<TBool> positive = tf.math.greater(y, tf.dtypes.cast(tf.constant(0f), y.type()));
    return Arrays.asList(null, MaskGradient.times(tf, dy, positive));
  }
}
