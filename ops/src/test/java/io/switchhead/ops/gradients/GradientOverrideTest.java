package io.switchhead.ops.gradients;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.check.GradientChecker;
import io.switchhead.ops.check.GradientChecker.Input;
import io.switchhead.testing.Seeded;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat64;

/** Per-node gradients through tagged IdentityN nodes; a timeout guards against graph-lock deadlocks. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class GradientOverrideTest {

  @Seeded private Random random;

  /** d/dx of a tagged node: {@code scale} times the incoming gradient; the config carries the scale. */
  private static final class Scaled implements GradientOverride.NodeGradient {
    final List<String> configsSeen = new ArrayList<>();

    @Override
    @SuppressWarnings("unchecked")
    public List<Operand<?>> inputGradients(Ops tf, GraphOperation node, List<Output<?>> grads, String config) {
      configsSeen.add(config);
      Operand<TFloat64> g = (Operand<TFloat64>) (Operand<?>) grads.get(0);
      List<Operand<?>> out = new ArrayList<>();
      out.add(null); // input 0 is the stop-gradient value
      out.add(tf.math.mul(g, tf.constant(Double.parseDouble(config))));
      return out;
    }
  }

  @Test
  @SuppressWarnings("unchecked")
  void taggedNodeGetsItsNamedGradientWithItsConfig() {
    Scaled scaled = new Scaled();
    GradientOverride.define("test.scaled", scaled);
    double[] xv = random.doubles(3, -2, 2).toArray();
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      Operand<TFloat64> x = tf.constant(xv);
      // value = x^2 computed normally, but its gradient is overridden to 2.5 * dy (not 2x * dy).
      GraphOperation node =
          GradientOverride.identity(tf, "test.scaled", "2.5", List.of(tf.stopGradient(tf.math.square(x)), x));
      Operand<TFloat64> y = (Operand<TFloat64>) (Operand<?>) node.output(0);
      Operand<?> dx = Gradients.of(tf, tf.reduceSum(y, tf.constant(0)), List.of(x)).get(0);
      try (Result r = s.runner().fetch(y).fetch(dx).run()) {
        double[] value = Tensors.toDoubles(r.get(0));
        for (int i = 0; i < xv.length; i++) {
          assertEquals(xv[i] * xv[i], value[i], 1e-12, "the forward value passes through");
        }
        assertArrayEquals(new double[] {2.5, 2.5, 2.5}, Tensors.toDoubles(r.get(1)), 1e-12);
      }
    }
    assertEquals(List.of("2.5"), scaled.configsSeen);
  }

  @Test
  void untaggedIdentityNPassesGradientsThrough() {
    GradientChecker.Report report =
        new GradientChecker()
            .seed(random.nextLong())
            .check(
                (tf, in) -> {
                  GraphOperation id =
                      (GraphOperation)
                          tf.scope().opBuilder("IdentityN", "plain")
                              .addInputList(new Output<?>[] {tf.math.sin(in.get(0)).asOutput(), in.get(1).asOutput()})
                              .build();
                  @SuppressWarnings("unchecked")
                  Operand<TFloat64> a = (Operand<TFloat64>) (Operand<?>) id.output(0);
                  @SuppressWarnings("unchecked")
                  Operand<TFloat64> b = (Operand<TFloat64>) (Operand<?>) id.output(1);
                  return tf.math.mul(a, b);
                },
                List.of(Input.normal(random, 4), Input.normal(random, 4)));
    assertTrue(report.maxRelativeError() < 1e-6, report.toString());
  }

  @Test
  void namesAreDefinedOnceAndMustExist() {
    GradientOverride.define("test.once", new Scaled());
    assertDoesNotThrow(() -> GradientOverride.define("test.once", new Scaled()), "same class again is a no-op");
    var conflict =
        assertThrows(
            IllegalArgumentException.class,
            () -> GradientOverride.define("test.once", (tf, node, grads, config) -> List.of()));
    assertTrue(conflict.getMessage().contains("test.once"), conflict.getMessage());
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      var undefined =
          assertThrows(
              IllegalArgumentException.class,
              () -> GradientOverride.identity(tf, "test.never-defined", "", List.of(tf.constant(1.0))));
      assertTrue(undefined.getMessage().contains("test.never-defined"), undefined.getMessage());
    }
  }
}
