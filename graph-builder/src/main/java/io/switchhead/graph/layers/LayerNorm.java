package io.switchhead.graph.layers;

import io.switchhead.graph.params.Initializer;
import io.switchhead.graph.params.ParamScope;
import io.switchhead.ops.gradients.GradientOverride;
import java.util.Arrays;
import java.util.List;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.math.Mean;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * LayerNorm over the last axis, with parameters {@code weight} (ones) and {@code bias} (zeros).
 *
 * <p>Its gradient is written by hand so that the backward keeps the normalised input and the
 * per-row 1/sigma: TensorFlow's gradients of the ops below would keep the centred input as well,
 * a second tensor of x's size at every norm.
 */
public final class LayerNorm {

  private static final float EPSILON = 1e-5f;

  /** The gradient's name in {@link GradientOverride}. */
  static final String GRADIENT = "switchhead.LayerNorm";

  /** The tagged node's inputs, in order. */
  private enum Input {
    VALUE, X, WEIGHT, BIAS, NORMALISED, INVERSE_STD
  }

  static {
    GradientOverride.define(GRADIENT, LayerNorm::gradient);
  }

  private LayerNorm() {}

  /** @param x [..., D] */
  public static <T extends TFloating> Operand<T> apply(ParamScope p, Ops tf, Operand<T> x, int d) {
    Operand<T> weight = p.param("weight", Shape.of(d), x.type(), Initializer.ones());
    Operand<T> bias = p.param("bias", Shape.of(d), x.type(), Initializer.zeros());
    Operand<T> mean = tf.math.mean(x, tf.constant(-1), Mean.keepDims(true));
    Operand<T> centred = tf.math.sub(x, mean);
    Operand<T> variance = tf.math.mean(tf.math.square(centred), tf.constant(-1), Mean.keepDims(true));
    Operand<T> inverseStd = tf.math.rsqrt(tf.math.add(variance, Layers.scalar(tf, EPSILON, x.type()))); // [..., 1]
    Operand<T> normalised = tf.math.mul(centred, inverseStd);
    Operand<T> y = tf.math.add(tf.math.mul(normalised, weight), bias);
    return GradientOverride.withGradient(tf, GRADIENT, "", y,
        List.of(x, weight, bias, tf.stopGradient(normalised), tf.stopGradient(inverseStd)));
  }

  @SuppressWarnings("unchecked")
  private static List<Operand<?>> gradient(Ops tf, GraphOperation node, List<Output<?>> outputGradients, String config) {
    return gradients(tf.withSubScope("layerNormGrad"), node, (Operand<TFloating>) (Operand<?>) outputGradients.get(Input.VALUE.ordinal()));
  }

  /**
   * With g = dy * weight and x^ the normalised input: dx = (g - mean(g) - x^ mean(g x^)) / sigma,
   * the means over the last axis; dweight = sum(dy x^) and dbias = sum(dy) over the other axes.
   */
  @SuppressWarnings("unchecked")
  private static <T extends TFloating> List<Operand<?>> gradients(Ops tf, GraphOperation node, Operand<T> dy) {
    Operand<T> weight = (Operand<T>) (Operand<?>) node.input(Input.WEIGHT.ordinal());
    Operand<T> normalised = (Operand<T>) (Operand<?>) node.input(Input.NORMALISED.ordinal());
    Operand<T> inverseStd = (Operand<T>) (Operand<?>) node.input(Input.INVERSE_STD.ordinal());
    Operand<TInt32> last = tf.constant(-1);
    Operand<T> g = tf.math.mul(dy, weight);
    Operand<T> meanG = tf.math.mean(g, last, Mean.keepDims(true));
    Operand<T> meanGx = tf.math.mean(tf.math.mul(g, normalised), last, Mean.keepDims(true));
    Operand<T> dx = tf.math.mul(tf.math.sub(tf.math.sub(g, meanG), tf.math.mul(normalised, meanGx)), inverseStd);
    // Every axis but the last: the rank is read by an op, as a gradient may not read static shapes.
    Operand<TInt32> leading = tf.range(tf.constant(0), tf.math.sub(tf.rank(dy), tf.constant(1)), tf.constant(1));
    Operand<T> dWeight = tf.reduceSum(tf.math.mul(dy, normalised), leading);
    Operand<T> dBias = tf.reduceSum(dy, leading);
    return Arrays.asList(null, dx, dWeight, dBias, null, null);
  }
}
