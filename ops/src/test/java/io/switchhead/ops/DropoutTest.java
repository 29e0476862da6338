package io.switchhead.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.gradients.Gradients;
import io.switchhead.testing.Seeded;
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
import org.tensorflow.types.TFloat64;

/** Dropout's values and its boolean-mask gradient against the mask read back from its output. */
class DropoutTest {

  @Seeded private Random random;

  @Test
  void dropsAtItsRateScalesTheRestAndPassesGradientsOnlyWhereKept() {
    int n = 4000 + random.nextInt(1000);
    double rate = 0.1 + 0.4 * random.nextDouble();
    double[] x = random.doubles(n).map(v -> v + 0.5).toArray(); // never 0, so a zero output means dropped
    double[] r = random.doubles(n).map(v -> v - 0.5).toArray();
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      Operand<TFloat64> xs = tf.constant(Tensors.doubles(Shape.of(n), x));
      Operand<TFloat64> y = Dropout.apply(tf, xs, rate, tf.constant(new long[] {random.nextLong(), 7}));
      Operand<TFloat64> loss = tf.reduceSum(tf.withName("weighted").math.mul(y, tf.constant(Tensors.doubles(Shape.of(n), r))), tf.constant(0));
      Operand<?> dx = Gradients.of(tf, loss, List.of(xs)).get(0);
      double[] ys;
      double[] dxs;
      try (Result out = s.runner().fetch(y).fetch(dx).run()) {
        ys = Tensors.toDoubles(out.get(0));
        dxs = Tensors.toDoubles(out.get(1));
      }
      // The mask's draws are 16-bit words: it keeps with probability 1 - rate rounded to 2^-16.
      double keep = (65536 - Math.round(rate * 65536)) / 65536.0;
      int dropped = 0;
      for (int i = 0; i < n; i++) {
        boolean kept = ys[i] != 0;
        dropped += kept ? 0 : 1;
        assertEquals(kept ? x[i] / keep : 0, ys[i], 1e-12, "y[" + i + "]");
        assertEquals(kept ? r[i] / keep : 0, dxs[i], 1e-12, "dx[" + i + "]");
      }
      double share = (double) dropped / n;
      assertTrue(Math.abs(share - rate) < 4 * Math.sqrt(rate * (1 - rate) / n), "dropped " + share + " at rate " + rate);

      // The backward reads the boolean mask: no float mask or product of dropout's own is read there.
      g.operations().forEachRemaining(op -> {
        boolean floatOfDropout = (op.type().equals("Cast") || op.type().equals("Mul")) && !op.name().equals("weighted");
        if (floatOfDropout && !op.name().startsWith("gradients")) {
          ((GraphOperation) op).consumers().forEach(c -> assertTrue(!c.name().startsWith("gradients"),
              "dropout's " + op.type() + " " + op.name() + " is read by the backward's " + c.name()));
        }
      });
      MaskGradientTest.assertMaskCastsWaitForTheGradient(g, "dropoutGrad/");
    }
  }
}
