package io.switchhead.graph.params;

import static com.google.common.base.Preconditions.checkArgument;

import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TFloating;

/**
 * How a parameter gets its first value, as graph ops. Random initializers use TensorFlow's stateless
 * random ops with a seed derived from the parameter's path and the model seed, so the same seed
 * gives the same parameters whatever order layers are built in.
 */
@FunctionalInterface
public interface Initializer {

  /**
   * The initial value.
   *
   * @param seed int64 [2], unique to the parameter
   */
  <T extends TFloating> Operand<T> build(Ops tf, Shape shape, Class<T> type, Operand<TInt64> seed);

  /** Normal(0, std). */
  static Initializer normal(double std) {
    checkArgument(std > 0 && Double.isFinite(std), "normal std must be positive and finite, got %s", std);
    return new Initializer() {
      @Override
      public <T extends TFloating> Operand<T> build(Ops tf, Shape shape, Class<T> type, Operand<TInt64> seed) {
        return tf.math.mul(
            tf.random.statelessRandomNormal(tf.constant(shape.asArray()), seed, type),
            tf.dtypes.cast(tf.constant(std), type));
      }

      @Override
      public String toString() {
        return "normal(std=" + std + ")";
      }
    };
  }

  /** Normal(0, std) with draws beyond two standard deviations redrawn. */
  static Initializer truncatedNormal(double std) {
    checkArgument(std > 0 && Double.isFinite(std), "truncated normal std must be positive and finite, got %s", std);
    return new Initializer() {
      @Override
      public <T extends TFloating> Operand<T> build(Ops tf, Shape shape, Class<T> type, Operand<TInt64> seed) {
        return tf.math.mul(
            tf.random.statelessTruncatedNormal(tf.constant(shape.asArray()), seed, type),
            tf.dtypes.cast(tf.constant(std), type));
      }

      @Override
      public String toString() {
        return "truncatedNormal(std=" + std + ")";
      }
    };
  }

  /** Uniform in [-limit, limit), e.g. Xavier's gain * sqrt(6 / (fanIn + fanOut)). */
  static Initializer uniform(double limit) {
    checkArgument(limit > 0 && Double.isFinite(limit), "uniform limit must be positive and finite, got %s", limit);
    return new Initializer() {
      @Override
      public <T extends TFloating> Operand<T> build(Ops tf, Shape shape, Class<T> type, Operand<TInt64> seed) {
        Operand<T> unit = tf.random.statelessRandomUniform(tf.constant(shape.asArray()), seed, type); // [0, 1)
        return tf.math.mul(tf.math.sub(tf.math.mul(unit, tf.dtypes.cast(tf.constant(2.0), type)), tf.dtypes.cast(tf.constant(1.0), type)),
            tf.dtypes.cast(tf.constant(limit), type));
      }

      @Override
      public String toString() {
        return "uniform(limit=" + limit + ")";
      }
    };
  }

  /** All zeros. */
  static Initializer zeros() {
    return constant(0);
  }

  /** All ones. */
  static Initializer ones() {
    return constant(1);
  }

  /** Every element {@code value}. */
  static Initializer constant(double value) {
    return new Initializer() {
      @Override
      public <T extends TFloating> Operand<T> build(Ops tf, Shape shape, Class<T> type, Operand<TInt64> seed) {
        return tf.fill(tf.constant(shape.asArray()), tf.dtypes.cast(tf.constant(value), type));
      }

      @Override
      public String toString() {
        return "constant(" + value + ")";
      }
    };
  }

  /**
   * The SwitchHead selection-matrix initialisation (SWITCHHEAD.md section 1): draw with {@code
   * inner}, divide each row by its L2 norm, then scale everything by (std of the draw / std of the
   * normalised matrix). Every row ends with the same norm and the global std is kept.
   */
  static Initializer rowRenormalized(Initializer inner) {
    return new Initializer() {
      @Override
      public <T extends TFloating> Operand<T> build(Ops tf, Shape shape, Class<T> type, Operand<TInt64> seed) {
        checkArgument(shape.numDimensions() == 2, "row renormalisation needs a matrix, got shape %s", shape);
        Operand<T> w = inner.build(tf, shape, type, seed);
        Operand<T> rowNorms = tf.math.sqrt(tf.reduceSum(tf.math.square(w), tf.constant(1), org.tensorflow.op.core.ReduceSum.keepDims(true)));
        Operand<T> normalised = tf.math.div(w, rowNorms);
        return tf.math.mul(normalised, tf.math.div(std(tf, w), std(tf, normalised)));
      }

      @Override
      public String toString() {
        return "rowRenormalized(" + inner + ")";
      }
    };
  }

  /** Standard deviation over all elements. The estimator cancels in the ratio above. */
  private static <T extends TFloating> Operand<T> std(Ops tf, Operand<T> x) {
    Operand<org.tensorflow.types.TInt32> all = tf.range(tf.constant(0), tf.rank(x), tf.constant(1));
    Operand<T> centred = tf.math.sub(x, tf.math.mean(x, all));
    return tf.math.sqrt(tf.math.mean(tf.math.square(centred), all));
  }
}
