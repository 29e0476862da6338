package io.switchhead.ops.moe;

import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Mode;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.Tensors;
import io.switchhead.ops.check.GradientChecker;
import io.switchhead.ops.check.GradientChecker.Input;
import io.switchhead.ops.gradients.Gradients;
import io.switchhead.testing.Seeded;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.nn.TopK;
import org.tensorflow.types.TFloat64;

/**
 * Selection feeding the conditional matmul, as in a SwitchHead projection: the ids come out of a
 * top-k over differentiable logits, so the int routing sits downstream of x. Gradient building must
 * not walk into it, and x must get gradients both through the gates and through the matmul.
 */
class RoutedLayerTest {

  @Seeded private Random random;

  /** y = sum over chosen experts of gate * x W_e, with the selection in float64. */
  private static Operand<TFloat64> layer(
      Ops tf, ConditionalMatmul impl, SelectionConfig c, Operand<TFloat64> x, Operand<TFloat64> s, Operand<TFloat64> w) {
    Selection<TFloat64> sel = ExpertSelection.select(tf, x, s, c, Mode.EVAL, tf.constant(new long[] {0, 0}), TFloat64.class);
    return impl.apply(tf, x, w, sel.ids(), sel.gates());
  }

  @Test
  void sortedEqualsDenseThroughTheSelection() {
    SelectionConfig c = SelectionConfig.of(2, 4, 2);
    int n = 13;
    int d = 6;
    int dOut = 3;
    double[] xv = random.doubles(n * d, -1, 1).toArray();
    double[] sv = random.doubles(8 * d, -1, 1).toArray();
    double[] wv = random.doubles(8 * d * dOut, -1, 1).toArray();
    double[] rv = random.doubles(n * dOut, -1, 1).toArray();
    List<double[]> results = new ArrayList<>();
    for (ConditionalMatmul impl : List.of(SortedConditionalMatmul.withDefaultBlockSize(), new DenseConditionalMatmul())) {
      try (Graph g = new Graph();
          Session session = new Session(g)) {
        Ops tf = GraphOps.create(g);
        Operand<TFloat64> x = tf.constant(Shape.of(n, d), DataBuffers.of(xv));
        Operand<TFloat64> s = tf.constant(Shape.of(8, d), DataBuffers.of(sv));
        Operand<TFloat64> w = tf.constant(Shape.of(8, d, dOut), DataBuffers.of(wv));
        Operand<TFloat64> y = layer(tf, impl, c, x, s, w);
        Operand<TFloat64> loss =
            tf.reduceSum(tf.math.mul(y, tf.constant(Shape.of(n, dOut), DataBuffers.of(rv))), tf.constant(new int[] {0, 1}));
        List<Operand<?>> grads = Gradients.of(tf, loss, List.of(x, s, w));
        try (Result r = session.runner().fetch(y).fetch(grads.get(0)).fetch(grads.get(1)).fetch(grads.get(2)).run()) {
          for (int i = 0; i < 4; i++) {
            results.add(Tensors.toDoubles(r.get(i)));
          }
        }
      }
    }
    String[] names = {"y", "dx", "dS", "dW"};
    for (int i = 0; i < 4; i++) {
      double err = Compare.relativeError(results.get(i), results.get(i + 4));
      assertTrue(err < 1e-10, names[i] + " sorted vs dense: " + err);
    }
  }

  @Test
  void idsFromATopKWithoutStopGradientDoNotBreakGradients() {
    // A caller may route with a bare top-k over differentiable scores; the int routing ops (sorts,
    // floor divisions, cumsums: several have no gradient) must still stay out of the backward.
    for (ConditionalMatmul impl : List.of(SortedConditionalMatmul.withDefaultBlockSize(), new DenseConditionalMatmul())) {
      GradientChecker.Report report =
          new GradientChecker()
              .seed(random.nextLong())
              .check(
                  (tf, in) -> {
                    var top = tf.nn.topK(tf.linalg.matMul(in.get(0), in.get(1)), tf.constant(2), new TopK.Options[0]);
                    return impl.apply(tf, in.get(0), in.get(2), top.indices(), tf.math.sigmoid(top.values()));
                  },
                  List.of(Input.normal(random, 6, 4), Input.normal(random, 4, 5), Input.normal(random, 5, 4, 3)));
      assertTrue(report.maxRelativeError() < 1e-6, impl + ": " + report);
    }
  }

  @Test
  void layerGradientsMatchFiniteDifferences() {
    // Generic random logits never tie within a step of 1e-6, so the choice is fixed around the point.
    SelectionConfig c = SelectionConfig.of(2, 3, 2);
    SortedConditionalMatmul sorted = SortedConditionalMatmul.withBlockSize(4);
    GradientChecker.Report report =
        new GradientChecker()
            .seed(random.nextLong())
            .check(
                (tf, in) -> layer(tf, sorted, c, in.get(0), in.get(1), in.get(2)),
                List.of(Input.normal(random, 7, 4), Input.normal(random, 6, 4), Input.normal(random, 6, 4, 3)));
    assertTrue(report.maxRelativeError() < 1e-6, report.toString());
  }
}
