package io.switchhead.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.testing.Seeded;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat64;

/** dy * cast(mask), against the select it replaced, and its cast held back until dy exists. */
class MaskGradientTest {

  @Seeded private Random random;

  @Test
  void multipliesByTheMaskAndTheScaleAndCastsOnlyAfterTheGradient() {
    int n = 300 + random.nextInt(300);
    double[] dy = random.doubles(n).map(v -> 4 * v - 2).toArray();
    boolean[] mask = new boolean[n];
    for (int i = 0; i < n; i++) {
      mask[i] = random.nextBoolean();
    }
    double scale = 1 + random.nextDouble();
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      Operand<TFloat64> gradient = tf.withName("dy").identity(tf.constant(Tensors.doubles(Shape.of(n), dy)));
      Operand<TBool> keep = tf.constant(mask);
      Operand<TFloat64> masked = MaskGradient.times(tf, gradient, keep);
      Operand<TFloat64> scaled = MaskGradient.times(tf, gradient, keep, tf.constant(scale));
      try (Result out = s.runner().fetch(masked).fetch(scaled).run()) {
        double[] m = Tensors.toDoubles(out.get(0));
        double[] sc = Tensors.toDoubles(out.get(1));
        for (int i = 0; i < n; i++) {
          assertEquals(mask[i] ? dy[i] : 0, m[i], 0, "dy * mask [" + i + "]");
          assertEquals(mask[i] ? dy[i] * scale : 0, sc[i], 1e-15 * Math.abs(dy[i] * scale), "dy * mask * scale [" + i + "]");
        }
      }
      assertMaskCastsWaitForTheGradient(g, "");
    }
  }

  /**
   * Every Cast of a mask under {@code scope} waits on a control input: without one TensorFlow would
   * cast as soon as the forward pass made the mask, and hold the floats through the backward.
   */
  static void assertMaskCastsWaitForTheGradient(Graph g, String scope) {
    List<GraphOperation> casts = new ArrayList<>();
    g.operations().forEachRemaining(op -> {
      if (op.type().equals("Cast") && op.name().contains(scope) && op.name().contains("MaskAfterGradient")) {
        casts.add((GraphOperation) op);
      }
    });
    assertTrue(!casts.isEmpty(), "no mask cast under " + scope);
    for (GraphOperation cast : casts) {
      assertEquals(1, cast.numControlInputs(), cast.name() + " must wait for the gradient it multiplies");
    }
  }
}
