package io.switchhead.ops.gradients;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.check.GradientChecker;
import io.switchhead.ops.check.GradientChecker.Input;
import io.switchhead.testing.Seeded;
import java.util.List;
import java.util.Random;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat64;

/**
 * Pins the workaround for TensorFlow Java 1.1.0's 11th-gradient crash: through the public API each
 * registration takes one of JavaCPP's ten callback slots and the 11th segfaults when invoked. Here
 * eight more op types (real derivatives of special functions that TensorFlow leaves without one)
 * join the project's own through the single dispatcher, and each, the last-registered included, is
 * invoked and checked. Without the shared dispatcher this test kills the JVM.
 */
class ManyGradientsTest {

  private static final double SQRT_PI = Math.sqrt(Math.PI);
  @Seeded private Random random;

  /** A unary op y = f(x) whose gradient is g * f'(x). */
  private record Unary(String opType, BiFunction<Ops, Operand<TFloat64>, Operand<TFloat64>> derivative)
      implements OpGradient {
    @Override
    @SuppressWarnings("unchecked")
    public List<Operand<?>> inputGradients(Ops tf, GraphOperation op, List<Output<?>> grads) {
      Operand<TFloat64> x = (Operand<TFloat64>) (Operand<?>) op.input(0);
      return List.of(tf.math.mul((Operand<TFloat64>) (Operand<?>) grads.get(0), derivative.apply(tf, x)));
    }
  }

  private static Operand<TFloat64> c(Ops tf, double v) {
    return tf.constant(v);
  }

  private static final List<Unary> EXTRA =
      List.of(
          new Unary("Erfc", (tf, x) -> tf.math.mul(c(tf, -2 / SQRT_PI), tf.math.exp(tf.math.neg(tf.math.square(x))))),
          new Unary("Dawsn", (tf, x) -> tf.math.sub(c(tf, 1), tf.math.mul(c(tf, 2), tf.math.mul(x, tf.math.special.dawsn(x))))),
          new Unary("Expint", (tf, x) -> tf.math.div(tf.math.exp(x), x)),
          new Unary("FresnelSin", (tf, x) -> tf.math.sin(tf.math.mul(c(tf, Math.PI / 2), tf.math.square(x)))),
          new Unary("FresnelCos", (tf, x) -> tf.math.cos(tf.math.mul(c(tf, Math.PI / 2), tf.math.square(x)))),
          new Unary("BesselI0", (tf, x) -> tf.math.besselI1(x)),
          new Unary("BesselJ0", (tf, x) -> tf.math.neg(tf.math.special.besselJ1(x))),
          new Unary("BesselK0", (tf, x) -> tf.math.neg(tf.math.special.besselK1(x))));

  private static final List<BiFunction<Ops, Operand<TFloat64>, Operand<TFloat64>>> FORWARD =
      List.of(
          (tf, x) -> tf.math.erfc(x),
          (tf, x) -> tf.math.special.dawsn(x),
          (tf, x) -> tf.math.special.expint(x),
          (tf, x) -> tf.math.special.fresnelSin(x),
          (tf, x) -> tf.math.special.fresnelCos(x),
          (tf, x) -> tf.math.besselI0(x),
          (tf, x) -> tf.math.special.besselJ0(x),
          (tf, x) -> tf.math.special.besselK0(x));

  @Test
  void moreThanTenJavaGradientsAllWork() {
    for (Unary gradient : EXTRA) {
      CustomGradients.register(gradient);
    }
    assertTrue(CustomGradients.opTypes().size() > 10, "registered: " + CustomGradients.opTypes());
    GradientChecker checker = new GradientChecker().seed(random.nextLong());
    // Walk backwards so the most recently registered (the 11th and later) is invoked first.
    for (int i = EXTRA.size() - 1; i >= 0; i--) {
      var forward = FORWARD.get(i);
      // Positive inputs in (0.5, 2.5): inside every function's domain (Expint, BesselK0 need x > 0).
      double[] x = random.doubles(6, 0.5, 2.5).toArray();
      GradientChecker.Report report =
          checker.check((tf, in) -> forward.apply(tf, in.get(0)), List.of(new Input(org.tensorflow.ndarray.Shape.of(6), x)));
      assertTrue(report.maxRelativeError() < 1e-6, EXTRA.get(i).opType() + ": " + report);
    }
  }
}
