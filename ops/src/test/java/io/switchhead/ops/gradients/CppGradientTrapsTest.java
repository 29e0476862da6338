package io.switchhead.ops.gradients;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.check.GradientChecker;
import io.switchhead.ops.check.GradientChecker.Input;
import io.switchhead.testing.Seeded;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Bugs in TensorFlow 2.18's C++ gradients that the project works around. Each test asserts the bug
 * is still there, so the day TensorFlow fixes it this fails and the workaround can go.
 */
class CppGradientTrapsTest {

  @Seeded private Random random;

  /**
   * LogSoftmax's C++ gradient sums the incoming gradient over axis 1, not the last axis: right for
   * [rows, classes], wrong for [N, H, E]. Softmax's is right at any rank. Workaround: apply
   * logSoftmax to a rank-2 view (ExpertSelection.negativeEntropy does).
   */
  @Test
  void logSoftmaxGradientIsWrongAboveRankTwo() {
    GradientChecker checker = new GradientChecker().seed(random.nextLong());
    GradientChecker.Report rank3 =
        checker.check((tf, in) -> tf.nn.logSoftmax(in.get(0)), List.of(Input.normal(random, 5, 3, 4)));
    assertTrue(rank3.maxRelativeError() > 0.1, "TensorFlow fixed rank-3 LogSoftmax gradients? " + rank3);
    GradientChecker.Report rank2 =
        checker.check((tf, in) -> tf.nn.logSoftmax(in.get(0)), List.of(Input.normal(random, 15, 4)));
    assertTrue(rank2.maxRelativeError() < 1e-6, rank2.toString());
    GradientChecker.Report softmax3 =
        checker.check((tf, in) -> tf.nn.softmax(in.get(0)), List.of(Input.normal(random, 5, 3, 4)));
    assertTrue(softmax3.maxRelativeError() < 1e-6, softmax3.toString());
  }
}
