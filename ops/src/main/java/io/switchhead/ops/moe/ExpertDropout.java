package io.switchhead.ops.moe;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.ops.StatelessRandom;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TFloating;
import org.tensorflow.types.family.TNumber;

/**
 * Expert dropout: each (token, head, expert) score becomes -inf with probability p, before top-k.
 * Seeded stateless randomness, so a step is reproducible from its seed and compiles under XLA.
 */
final class ExpertDropout {

  private ExpertDropout() {}

  /** {@code scores} [N, H, E] with each entry replaced by -inf with probability {@code p}. */
  static <U extends TFloating> Operand<U> mask(Ops tf, Operand<U> scores, double p, Operand<? extends TNumber> seed) {
    Shape seedShape = seed.shape();
    checkArgument(
        seedShape.isUnknown() || (seedShape.numDimensions() == 1 && seedShape.get(0) == 2),
        "expert dropout: seed must have shape [2], got %s",
        seedShape);
    Ops dr = tf.withSubScope("expertDropout");
    // StatelessRandom, not TensorFlow's stateless ops: those fail XLA with an int64 seed, and XLA's
    // Philox draws other numbers than the CPU kernel (see StatelessRandom).
    Operand<TFloat64> uniform = StatelessRandom.uniform(dr, dr.shape(scores), dr.dtypes.cast(seed, TInt64.class)); // [N, H, E]
    Operand<U> minusInf = dr.fill(dr.shape(scores), dr.dtypes.cast(dr.constant(Double.NEGATIVE_INFINITY), scores.type()));
    return dr.select(dr.math.less(uniform, dr.constant(p)), minusInf, scores);
  }
}
