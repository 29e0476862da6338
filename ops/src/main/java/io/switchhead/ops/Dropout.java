package io.switchhead.ops;

import static com.google.common.base.Preconditions.checkArgument;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TFloating;

/**
 * Inverted dropout with stateless randomness: the same seed gives the same mask, so a resumed run
 * replays the same masks. TensorFlow Java has no dropout op (Python composes it).
 */
public final class Dropout {

  private Dropout() {}

  /**
   * Zeroes each element with probability {@code rate} and scales the rest by 1 / (1 - rate).
   *
   * @param seed int64 [2], distinct per step and per dropout site
   */
  public static <T extends TFloating> Operand<T> apply(Ops tf, Operand<T> x, double rate, Operand<TInt64> seed) {
    checkArgument(rate >= 0 && rate < 1, "dropout rate (%s) must be in [0, 1)", rate);
    if (rate == 0) {
      return x;
    }
    Operand<T> keep = tf.dtypes.cast(tf.math.greaterEqual(StatelessRandom.uniform(tf, tf.shape(x), seed), tf.constant(rate)), x.type());
    return tf.math.mul(x, tf.math.mul(keep, tf.dtypes.cast(tf.constant(1 / (1 - rate)), x.type())));
  }
}
