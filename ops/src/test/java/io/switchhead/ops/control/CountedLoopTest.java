package io.switchhead.ops.control;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.control.CountedLoop.Spec;
import io.switchhead.ops.gradients.GradientOverride;
import io.switchhead.ops.gradients.Gradients;
import io.switchhead.ops.xla.XlaCompiledCall;
import io.switchhead.testing.Seeded;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;

class CountedLoopTest {

  private static final String GRADIENT = "test.countedLoopInGradient";

  @Seeded private Random random;

  /** acc += x * (i + 1): after n iterations acc = x * n(n+1)/2. */
  @SuppressWarnings("unchecked")
  private static CountedLoop.Definition triangular(Ops tf, long size) {
    Spec vector = new Spec(TFloat64.class, Shape.of(size));
    return CountedLoop.define(
        tf,
        "triangular",
        List.of(vector),
        List.of(vector),
        (ops, i, in, acc) ->
            List.of(
                ops.math.add(
                    (Operand<TFloat64>) acc.get(0),
                    ops.math.mul((Operand<TFloat64>) in.get(0), ops.dtypes.cast(ops.math.add(i, ops.constant(1)), TFloat64.class)))));
  }

  @SuppressWarnings("unchecked")
  private static Operand<TFloat64> runTriangular(Ops tf, CountedLoop.Definition loop, Operand<TInt32> count, Operand<TFloat64> x) {
    return (Operand<TFloat64>) (Operand<?>) CountedLoop.call(tf, loop, count, 5, List.of(x), List.of(tf.zerosLike(x))).get(0);
  }

  private double[] randomVector(int n) {
    double[] v = new double[n];
    for (int j = 0; j < n; j++) {
      v[j] = random.nextGaussian();
    }
    return v;
  }

  private static double[] scaled(double[] v, double factor) {
    double[] out = v.clone();
    for (int j = 0; j < out.length; j++) {
      out[j] *= factor;
    }
    return out;
  }

  @Test
  void runsTheBodyAsManyTimesAsTheCountSaysWhenItRuns() {
    double[] x = randomVector(3);
    try (Graph g = new Graph();
        Session session = new Session(g)) {
      Ops tf = GraphOps.create(g);
      var count = tf.placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
      Operand<TFloat64> sum = runTriangular(tf, triangular(tf, 3), count, tf.constant(x));
      for (int n : new int[] {0, 1, 4}) {
        try (TInt32 nTensor = TInt32.scalarOf(n);
            Result r = session.runner().feed(count, nTensor).fetch(sum).run()) {
          assertArrayEquals(scaled(x, n * (n + 1) / 2.0), Tensors.toDoubles(r.get(0)), 1e-12, "n = " + n);
        }
      }
    }
  }

  /**
   * Pins the workaround for a TensorFlow Java 1.1.0 hang: setting a function-valued attribute
   * inside a gradient copies the function into the graph under the lock the gradient holds. The
   * loop is defined while the forward graph is built and only called in the gradient.
   */
  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  @SuppressWarnings("unchecked")
  void canBeCalledInsideAGradient() {
    double[] x = randomVector(4);
    try (Graph g = new Graph();
        Session session = new Session(g)) {
      Ops tf = GraphOps.create(g);
      Operand<TFloat64> input = tf.constant(x);
      CountedLoop.Definition loop = triangular(tf, 4);
      // y = x computed plainly, differentiated as dy * (1 + 2 + 3) by the loop, three times.
      GradientOverride.define(
          GRADIENT,
          (ops, node, grads, config) -> {
            List<Operand<?>> out = new ArrayList<>(List.of(ops.zerosLike(node.input(0)), ops.zerosLike(node.input(0))));
            out.set(1, runTriangular(ops, CountedLoop.Definition.decode(config), ops.constant(3), (Operand<TFloat64>) grads.get(0)));
            return out;
          });
      GraphOperation node = GradientOverride.identity(tf, GRADIENT, loop.encode(), List.of(tf.stopGradient(input), input));
      Operand<TFloat64> y = (Operand<TFloat64>) (Operand<?>) node.output(0);
      Operand<TFloat64> loss = tf.reduceSum(tf.math.mul(y, tf.constant(1.0)), tf.constant(0));
      Operand<?> dx = Gradients.of(tf, loss, List.of(input)).get(0);
      try (Result r = session.runner().fetch(dx).run()) {
        assertArrayEquals(new double[] {6, 6, 6, 6}, Tensors.toDoubles(r.get(0)), 1e-12);
      }
    }
  }

  @Test
  void compilesUnderXla() {
    double[] x = randomVector(5);
    try (Graph g = new Graph();
        Session session = new Session(g);
        ConcreteFunction f =
            ConcreteFunction.create(
                ops -> {
                  var in = ops.placeholder(TFloat64.class, Placeholder.shape(Shape.of(5)));
                  var n = ops.placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
                  return Signature.builder().key("loop").input("x", in).input("n", n)
                      .output("sum", runTriangular(ops, triangular(ops, 5), n, in)).build();
                })) {
      Ops tf = GraphOps.create(g);
      Map<String, Operand<?>> out = XlaCompiledCall.call(tf, f, Map.of("x", tf.constant(x), "n", tf.constant(5)));
      try (Result r = session.runner().fetch(out.get("sum")).run()) {
        assertArrayEquals(scaled(x, 15), Tensors.toDoubles(r.get(0)), 1e-12);
      }
    }
  }

  @Test
  @SuppressWarnings("unchecked")
  void countsItsBodyMatmulsForTheAccounting() {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      Spec product = new Spec(TFloat64.class, Shape.of(2, 4));
      CountedLoop.Definition loop =
          CountedLoop.define(
              tf,
              "matmuls",
              List.of(new Spec(TFloat64.class, Shape.of(2, 3)), new Spec(TFloat64.class, Shape.of(3, 4))),
              List.of(product),
              (ops, i, in, acc) ->
                  List.of(ops.math.add((Operand<TFloat64>) acc.get(0), ops.linalg.matMul((Operand<TFloat64>) in.get(0), (Operand<TFloat64>) in.get(1)))));
      assertEquals(2 * 3 * 4, loop.macsPerTrip());
      List<org.tensorflow.Output<?>> out =
          CountedLoop.call(
              tf, loop, tf.constant(1), 7, List.of(tf.zeros(tf.constant(new int[] {2, 3}), TFloat64.class), tf.zeros(tf.constant(new int[] {3, 4}), TFloat64.class)),
              List.of(tf.zeros(tf.constant(new int[] {2, 4}), TFloat64.class)));
      assertEquals(7 * 24, CountedLoop.worstCaseMacs((GraphOperation) out.get(0).op()));
      assertEquals(0, CountedLoop.worstCaseMacs((GraphOperation) tf.constant(1).op()));
    }
  }

  @Test
  void bodyMustKeepTheCarriedShapes() {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      Spec vector = new Spec(TFloat64.class, Shape.of(3));
      var error =
          assertThrows(
              IllegalArgumentException.class,
              () -> CountedLoop.define(tf, "bad", List.of(), List.of(vector), (ops, i, in, acc) -> List.of(ops.constant(new double[] {1, 2}))));
      assertTrue(error.getMessage().contains("carried tensor 0 must stay TFloat64 [3]"), error.getMessage());
      var unknown = assertThrows(IllegalArgumentException.class, () -> new Spec(TFloat64.class, Shape.of(-1, 3)));
      assertTrue(unknown.getMessage().contains("static shapes"), unknown.getMessage());
    }
  }
}
