package io.switchhead.ops.moe;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.check.GradientChecker;
import io.switchhead.ops.check.GradientChecker.Input;
import io.switchhead.ops.gradients.Gradients;
import io.switchhead.ops.xla.XlaCompiledCall;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BiFunction;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/** Runs a conditional matmul on a {@link MatmulProblem}: forward and the gradients of sum(y * r). */
final class MatmulRunner {

  /** y, then d/dx, d/dw, d/dgates of sum(y * r), as doubles. */
  record Outputs(double[] y, double[] dx, double[] dw, double[] dGates) {
    double[][] all() {
      return new double[][] {y, dx, dw, dGates};
    }
  }

  static final List<String> NAMES = List.of("y", "dx", "dw", "dgates");

  private MatmulRunner() {}

  /** Builds forward and gradients on the given inputs; the map is y, dx, dw, dgates. */
  static <T extends TFloating> Map<String, Operand<?>> step(
      Ops tf, ConditionalMatmul impl, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates,
      Operand<T> r, boolean slots) {
    Operand<T> y = slots ? impl.slotOutputs(tf, x, w, ids, gates) : impl.apply(tf, x, w, ids, gates);
    Operand<T> loss = tf.reduceSum(tf.math.mul(y, r), tf.range(tf.constant(0), tf.rank(y), tf.constant(1)));
    List<Operand<?>> grads = Gradients.of(tf, loss, List.of(x, w, gates));
    Map<String, Operand<?>> out = new LinkedHashMap<>();
    out.put("y", y);
    out.put("dx", grads.get(0));
    out.put("dw", grads.get(1));
    out.put("dgates", grads.get(2));
    return out;
  }

  /**
   * Central differences in float64 against impl's gradients for x, w and the gates, for the summed
   * and the per-slot outputs, with ids drawn by the routing.
   */
  static void assertGradientsMatchFiniteDifferences(
      ConditionalMatmul impl, MatmulShapes s, MatmulProblem.Routing routing, Random random) {
    int[] flatIds = routing.ids(random, s.rows(), s.experts(), s.k());
    int[][] ids = new int[s.rows()][];
    for (int n = 0; n < s.rows(); n++) {
      ids[n] = Arrays.copyOfRange(flatIds, n * s.k(), (n + 1) * s.k());
    }
    GradientChecker checker = new GradientChecker().seed(random.nextLong());
    for (boolean slots : new boolean[] {false, true}) {
      GradientChecker.Report report =
          checker.check(
              (tf, in) -> {
                Operand<TInt32> idsConst = tf.constant(ids);
                return slots
                    ? impl.slotOutputs(tf, in.get(0), in.get(1), idsConst, in.get(2))
                    : impl.apply(tf, in.get(0), in.get(1), idsConst, in.get(2));
              },
              List.of(
                  Input.normal(random, s.rows(), s.dIn()),
                  Input.normal(random, s.experts(), s.dIn(), s.dOut()),
                  Input.normal(random, s.rows(), s.k())));
      // 1e-6 as in the project's other checks: central differences at h = 1e-6 carry ~1e-9 absolute noise.
      assertTrue(report.maxRelativeError() < 1e-6, (slots ? "slots: " : "summed: ") + report);
    }
  }

  /** Runs in a plain graph (no XLA). */
  static <T extends TFloating> Outputs plain(ConditionalMatmul impl, MatmulProblem p, Class<T> type) {
    return plainAnyRows(impl, List.of(p), type, false).get(0);
  }

  /**
   * Runs every problem in one plain graph; with {@code anyRows} its placeholders leave the row count N
   * unknown ([-1, ...]), as a server's batch does, so problems of different N share the graph. All
   * problems must agree in everything but N.
   */
  static <T extends TFloating> List<Outputs> plainAnyRows(ConditionalMatmul impl, List<MatmulProblem> problems, Class<T> type,
      boolean anyRows) {
    try (Graph g = new Graph();
        Session session = new Session(g)) {
      Ops tf = GraphOps.create(g);
      Inputs<T> in = new Inputs<>(tf, problems.get(0), type, anyRows);
      Map<String, Operand<?>> out = step(tf, impl, in.x, in.w, in.ids, in.gates, in.r, problems.get(0).slots());
      List<Outputs> all = new ArrayList<>();
      for (MatmulProblem p : problems) {
        all.add(in.run(session, out, p));
      }
      return all;
    }
  }

  /** Runs the whole step (forward and gradients) as one must-compile XLA function. */
  static <T extends TFloating> Outputs xla(ConditionalMatmul impl, MatmulProblem p, Class<T> type) {
    try (ConcreteFunction f =
            ConcreteFunction.create(
                tf -> {
                  Inputs<T> in = new Inputs<>(tf, p, type, false);
                  Map<String, Operand<?>> out = step(tf, impl, in.x, in.w, in.ids, in.gates, in.r, p.slots());
                  Signature.Builder sig =
                      Signature.builder().key("conditional_matmul_step")
                          .input("x", in.x).input("w", in.w).input("ids", in.ids).input("gates", in.gates).input("r", in.r);
                  out.forEach(sig::output);
                  return sig.build();
                });
        Graph g = new Graph();
        Session session = new Session(g)) {
      Ops tf = GraphOps.create(g);
      Inputs<T> in = new Inputs<>(tf, p, type, false);
      Map<String, Operand<?>> out =
          XlaCompiledCall.call(tf, f, Map.of("x", in.x, "w", in.w, "ids", in.ids, "gates", in.gates, "r", in.r));
      return in.run(session, out, p);
    }
  }

  /** Placeholders, static or with N unknown, and the tensors that feed them a problem. */
  private static final class Inputs<T extends TFloating> {
    final Placeholder<T> x;
    final Placeholder<T> w;
    final Placeholder<TInt32> ids;
    final Placeholder<T> gates;
    final Placeholder<T> r;
    private final Class<T> type;

    Inputs(Ops tf, MatmulProblem p, Class<T> type, boolean anyRows) {
      MatmulShapes s = p.shapes();
      this.type = type;
      long n = anyRows ? -1 : s.rows();
      x = tf.placeholder(type, Placeholder.shape(Shape.of(n, s.dIn())));
      w = tf.placeholder(type, Placeholder.shape(Shape.of(s.experts(), s.dIn(), s.dOut())));
      ids = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(n, s.k())));
      gates = tf.placeholder(type, Placeholder.shape(Shape.of(n, s.k())));
      r = tf.placeholder(type, Placeholder.shape(outputShape(p, n)));
    }

    private static Shape outputShape(MatmulProblem p, long rows) {
      MatmulShapes s = p.shapes();
      return p.slots() ? Shape.of(rows, s.k(), s.dOut()) : Shape.of(rows, s.dOut());
    }

    Outputs run(Session session, Map<String, Operand<?>> out, MatmulProblem p) {
      MatmulShapes s = p.shapes();
      List<Tensor> feeds = new ArrayList<>();
      try {
        Session.Runner runner = session.runner();
        runner.feed(x, track(feeds, floating(Shape.of(s.rows(), s.dIn()), p.x())));
        runner.feed(w, track(feeds, floating(w.shape(), p.w())));
        runner.feed(ids, track(feeds, Tensors.ints(Shape.of(s.rows(), s.k()), p.ids())));
        runner.feed(gates, track(feeds, floating(Shape.of(s.rows(), s.k()), p.gates())));
        runner.feed(r, track(feeds, floating(outputShape(p, s.rows()), p.r())));
        NAMES.forEach(name -> runner.fetch(out.get(name)));
        try (Result result = runner.run()) {
          return new Outputs(
              doubles(result.get(0)), doubles(result.get(1)), doubles(result.get(2)), doubles(result.get(3)));
        }
      } finally {
        feeds.forEach(Tensor::close);
      }
    }

    private Tensor floating(Shape shape, double[] values) {
      if (type == TFloat64.class) {
        return Tensors.doubles(shape, values);
      }
      float[] f = new float[values.length];
      for (int i = 0; i < f.length; i++) {
        f[i] = (float) values[i];
      }
      return Tensors.floats(shape, f);
    }

    private static double[] doubles(Tensor t) {
      if (t instanceof TFloat64) {
        return Tensors.toDoubles(t);
      }
      float[] f = Tensors.toFloats((TFloat32) t);
      double[] d = new double[f.length];
      for (int i = 0; i < f.length; i++) {
        d[i] = f[i];
      }
      return d;
    }

    private static <U extends Tensor> U track(List<Tensor> feeds, U t) {
      feeds.add(t);
      return t;
    }
  }

  /** A scalar count over the routing {@code ids} [N, k] (pairs dropped, pairs spilled), built by {@code count} and run. */
  static int countOver(MatmulShapes s, int[] ids, BiFunction<Ops, Operand<TInt32>, Operand<TInt32>> count) {
    try (Graph g = new Graph();
        Session session = new Session(g);
        TInt32 idsTensor = Tensors.ints(Shape.of(s.rows(), s.k()), ids)) {
      Ops tf = GraphOps.create(g);
      try (Result r = session.runner().fetch(count.apply(tf, tf.constant(idsTensor))).run()) {
        return ((TInt32) r.get(0)).getInt();
      }
    }
  }
}
