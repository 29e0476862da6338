package io.switchhead.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.gradients.Gradients;
import io.switchhead.testing.Seeded;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat64;

/** The ReLU whose gradient keeps only the output's sign, against max(x, 0) and its derivative. */
class ReluTest {

  @Seeded private Random random;

  @Test
  void givesMaxOfXAndZeroAndTheStepFunctionAsGradientWithoutReadingTheInput() {
    int n = 500 + random.nextInt(500);
    double[] x = random.doubles(n).map(v -> 2 * v - 1).toArray();
    double[] r = random.doubles(n).map(v -> v - 0.5).toArray();
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      // The pre-activation is made by an op here, as in a layer (x W + b).
      Operand<TFloat64> pre = tf.math.add(tf.constant(Tensors.doubles(Shape.of(n), x)), tf.constant(0.0));
      Operand<TFloat64> y = Relu.apply(tf, pre);
      Operand<TFloat64> loss = tf.reduceSum(tf.math.mul(y, tf.constant(Tensors.doubles(Shape.of(n), r))), tf.constant(0));
      Operand<?> dx = Gradients.of(tf, loss, List.of(pre)).get(0);
      try (Result out = s.runner().fetch(y).fetch(dx).run()) {
        double[] ys = Tensors.toDoubles(out.get(0));
        double[] dxs = Tensors.toDoubles(out.get(1));
        for (int i = 0; i < n; i++) {
          assertEquals(Math.max(x[i], 0), ys[i], 0, "y[" + i + "]");
          assertEquals(x[i] > 0 ? r[i] : 0, dxs[i], 0, "dx[" + i + "]");
        }
      }
      // TensorFlow's own Relu gradient would read the pre-activation; this one reads the output.
      ((org.tensorflow.GraphOperation) pre.op()).consumers().forEach(c -> assertTrue(!c.name().startsWith("gradients"),
          "the pre-activation is read by the backward's " + c.name()));
      MaskGradientTest.assertMaskCastsWaitForTheGradient(g, "reluGrad/");
    }
  }
}
