package io.switchhead.graph.layers;

import io.switchhead.graph.params.Initializer;
import io.switchhead.graph.params.ParamScope;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.family.TFloating;

/** LayerNorm over the last axis, with parameters {@code weight} (ones) and {@code bias} (zeros). */
public final class LayerNorm {

  private static final float EPSILON = 1e-5f;

  private LayerNorm() {}

  /** @param x [..., D] */
  public static <T extends TFloating> Operand<T> apply(ParamScope p, Ops tf, Operand<T> x, int d) {
    Operand<T> weight = p.param("weight", Shape.of(d), x.type(), Initializer.ones());
    Operand<T> bias = p.param("bias", Shape.of(d), x.type(), Initializer.zeros());
    Operand<T> mean = tf.math.mean(x, tf.constant(-1), org.tensorflow.op.math.Mean.keepDims(true));
    Operand<T> centred = tf.math.sub(x, mean);
    Operand<T> variance =
        tf.math.mean(tf.math.square(centred), tf.constant(-1), org.tensorflow.op.math.Mean.keepDims(true));
    Operand<T> normalised = tf.math.mul(centred, tf.math.rsqrt(tf.math.add(variance, Layers.scalar(tf, EPSILON, x.type()))));
    return tf.math.add(tf.math.mul(normalised, weight), bias);
  }
}
