package io.switchhead.ops.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.check.GradientChecker.Input;
import io.switchhead.testing.Seeded;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.ndarray.Shape;

class GradientCheckerTest {

  @Seeded private Random random;

  @Test
  void agreesWithTensorFlowOnASmoothFunction() {
    // y = tanh(x W) summed with softmax: C++ gradients, so only the checker is under test.
    GradientChecker.Report report =
        new GradientChecker()
            .seed(random.nextLong())
            .check(
                (tf, in) -> tf.nn.softmax(tf.math.tanh(tf.linalg.matMul(in.get(0), in.get(1)))),
                List.of(Input.normal(random, 3, 4), Input.normal(random, 4, 5)));
    assertTrue(report.maxRelativeError() < 1e-7, report.toString());
    assertEquals(12 + 20, report.elementsChecked());
  }

  @Test
  void flagsAGradientThatIsWrong() {
    // x * stop_gradient(x): TensorFlow's gradient is x, the true derivative 2x.
    GradientChecker.Report report =
        new GradientChecker().seed(random.nextLong()).check((tf, in) -> tf.math.mul(in.get(0), tf.stopGradient(in.get(0))), List.of(Input.normal(random, 4)));
    assertTrue(report.maxRelativeError() > 0.3, report.toString());
  }

  @Test
  void acceptsTheCorrectGradientBesideACorner() {
    // relu(x - c) with its corner half a step left of x: the central difference straddles it.
    double x = random.nextGaussian();
    double corner = x - 0.5e-5 * Math.max(1, Math.abs(x));
    GradientChecker.Report report =
        new GradientChecker().seed(random.nextLong()).check((tf, in) -> tf.nn.relu(tf.math.sub(in.get(0), tf.constant(corner))), List.of(new Input(Shape.of(1), new double[] {x})));
    assertTrue(report.maxRelativeError() < 1e-7, report.toString());
    assertEquals(1, report.corners(), report.toString());
  }

  @Test
  void stillFlagsAWrongGradientBesideACorner() {
    // relu(x - c) + x * stop_gradient(x) beside the corner: TensorFlow's gradient lacks the x term.
    double x = 1 + Math.abs(random.nextGaussian());
    double corner = x - 0.5e-5 * x;
    GradientChecker.Report report =
        new GradientChecker()
            .seed(random.nextLong())
            .check(
                (tf, in) -> tf.math.add(tf.nn.relu(tf.math.sub(in.get(0), tf.constant(corner))), tf.math.mul(in.get(0), tf.stopGradient(in.get(0)))),
                List.of(new Input(Shape.of(1), new double[] {x})));
    assertTrue(report.maxRelativeError() > 0.1, report.toString());
  }

  @Test
  void samplesLargeInputs() {
    GradientChecker.Report report =
        new GradientChecker().seed(random.nextLong()).maxElementsPerInput(10).check((tf, in) -> tf.math.sin(in.get(0)), List.of(Input.normal(random, 50)));
    assertEquals(10, report.elementsChecked());
    assertTrue(report.maxRelativeError() < 1e-7, report.toString());
  }

  @Test
  void rejectsAnInputWhoseValuesDoNotFillItsShape() {
    var error = assertThrows(IllegalArgumentException.class, () -> new Input(Shape.of(2, 3), new double[5]));
    assertTrue(error.getMessage().contains("[2, 3]"), error.getMessage());
  }
}
