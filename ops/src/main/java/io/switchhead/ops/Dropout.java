package io.switchhead.ops;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.ops.gradients.GradientOverride;
import java.util.Arrays;
import java.util.List;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TFloating;

/**
 * Inverted dropout with stateless randomness: the same seed gives the same mask, so a resumed run
 * replays the same masks. TensorFlow Java has no dropout op (Python composes it).
 *
 * <p>Its gradient keeps the mask as booleans, a byte an element: TensorFlow's own gradient of the
 * product would keep the float mask (four bytes an element) and the input, for the whole backward
 * pass, at every dropout site.
 */
public final class Dropout {

  /** The gradient's name in {@link GradientOverride}. */
  static final String GRADIENT = "switchhead.Dropout";

  /** The tagged node's inputs, in order. */
  private enum Input {
    VALUE, X, KEEP
  }

  static {
    GradientOverride.define(GRADIENT, Dropout::gradient);
  }

  private Dropout() {}

  /**
   * Zeroes each element with probability {@code rate} and scales the rest by the inverse of the
   * probability of keeping one ({@link StatelessRandom#keepProbability}: 1 - rate to 2^-16), so that
   * the expected output is the input.
   *
   * @param seed int64 [2], distinct per step and per dropout site
   */
  public static <T extends TFloating> Operand<T> apply(Ops tf, Operand<T> x, double rate, Operand<TInt64> seed) {
    checkArgument(rate >= 0 && rate < 1, "dropout rate (%s) must be in [0, 1)", rate);
    if (rate == 0) {
      return x;
    }
    Operand<TBool> keep = StatelessRandom.keep(tf, tf.shape(x), rate, seed);
    Operand<T> y = tf.math.mul(x, tf.math.mul(tf.dtypes.cast(keep, x.type()), keptScale(tf, rate, x.type())));
    String config = AttrRecord.builder().putString("rate", Double.toString(rate)).build().encode();
    return GradientOverride.withGradient(tf, GRADIENT, config, y, List.of(x, tf.stopGradient(keep)));
  }

  /** dx = dy / P(keep) where kept, else 0 ({@link MaskGradient}); every op waits for dy, so none runs before the backward. */
  @SuppressWarnings("unchecked")
  private static List<Operand<?>> gradient(Ops tf, GraphOperation node, List<Output<?>> outputGradients, String config) {
    double rate = Double.parseDouble(AttrRecord.decode(GRADIENT + " config", config).getString("rate"));
    return scaledWhereKept(tf.withSubScope("dropoutGrad"), (Operand<TFloating>) (Operand<?>) outputGradients.get(Input.VALUE.ordinal()),
        (Operand<TBool>) (Operand<?>) node.input(Input.KEEP.ordinal()), rate);
  }

  private static <T extends TFloating> List<Operand<?>> scaledWhereKept(Ops tf, Operand<T> dy, Operand<TBool> keep, double rate) {
    return Arrays.asList(null, MaskGradient.times(tf, dy, keep, keptScale(tf, rate, dy.type())), null);
  }

  /** 1 / P(keep) as a scalar of {@code type}: what a kept element is scaled by, forward and backward. */
  private static <T extends TFloating> Operand<T> keptScale(Ops tf, double rate, Class<T> type) {
    return tf.dtypes.cast(tf.constant(1 / StatelessRandom.keepProbability(rate)), type);
  }
}
