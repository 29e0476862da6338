package io.switchhead.ops.gradients;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.check.GradientChecker;
import io.switchhead.ops.check.GradientChecker.Input;
import io.switchhead.testing.Seeded;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;

/**
 * The project's Java gradients, each against finite differences on fresh random inputs. A timeout
 * guards every test: a gradient that called Operand.shape() would deadlock instead of failing.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CustomGradientsTest {

  private static final double TOLERANCE = 1e-6;
  @Seeded private Random random;
  private GradientChecker checker;

  @BeforeEach
  void seedTheChecker() {
    checker = new GradientChecker().seed(random.nextLong());
  }

  @Test
  void topKValuesGradientFlowsToChosenPositions() {
    // Rank 3 input with distinct primes so a mixed-up axis shows; k = 3 of 7.
    GradientChecker.Report report =
        checker.check(
            (tf, in) -> tf.nn.topK(in.get(0), tf.constant(3), new org.tensorflow.op.nn.TopK.Options[0]).values(),
            List.of(Input.normal(random, 2, 5, 7)));
    assertTrue(report.maxRelativeError() < TOLERANCE, report.toString());
  }

  @Test
  void topKIndicesFeedingGatherGiveGradientsOnlyThroughValues() {
    // The routing pattern: choose with top-k, then gather another tensor at the chosen indices.
    GradientChecker.Report report =
        checker.check(
            (tf, in) -> {
              var topK = tf.nn.topK(in.get(0), tf.constant(2), new org.tensorflow.op.nn.TopK.Options[0]);
              Operand<TFloat64> gathered = tf.gather(in.get(1), topK.indices(), tf.constant(0));
              return tf.math.mul(gathered, tf.expandDims(topK.values(), tf.constant(-1)));
            },
            List.of(Input.normal(random, 3, 5), Input.normal(random, 5, 4)));
    assertTrue(report.maxRelativeError() < TOLERANCE, report.toString());
  }

  @Test
  void sparseSoftmaxCrossEntropyMatchesFiniteDifferences() {
    int[] labels = {random.nextInt(6), random.nextInt(6), random.nextInt(6), random.nextInt(6)};
    GradientChecker.Report report =
        checker.check(
            (tf, in) -> tf.nn.sparseSoftmaxCrossEntropyWithLogits(in.get(0), tf.constant(labels)).loss(),
            List.of(Input.normal(random, 4, 6)));
    assertTrue(report.maxRelativeError() < TOLERANCE, report.toString());
  }

  @Test
  void tensorScatterAddSubUpdateMatchFiniteDifferences() {
    int[][] indices = {{3}, {0}, {5}};
    for (String kind : List.of("add", "sub", "update")) {
      GradientChecker.Report report =
          checker.check(
              (tf, in) -> {
                Operand<TInt32> idx = tf.constant(indices);
                switch (kind) {
                  case "add":
                    return tf.tensorScatterNdAdd(in.get(0), idx, in.get(1));
                  case "sub":
                    return tf.tensorScatterNdSub(in.get(0), idx, in.get(1));
                  default:
                    return tf.tensorScatterNdUpdate(in.get(0), idx, in.get(1));
                }
              },
              List.of(Input.normal(random, 7, 2), Input.normal(random, 3, 2)));
      assertTrue(report.maxRelativeError() < TOLERANCE, kind + ": " + report);
    }
  }

  @Test
  void registeringAnOpThatTensorFlowAlreadyDifferentiatesIsRefused() {
    var error =
        assertThrows(
            IllegalArgumentException.class,
            () -> CustomGradients.register(new OpGradient() {
              @Override
              public String opType() {
                return "MatMul";
              }

              @Override
              public List<Operand<?>> inputGradients(Ops tf, org.tensorflow.GraphOperation op, List<org.tensorflow.Output<?>> g) {
                throw new AssertionError("never called");
              }
            }));
    assertTrue(error.getMessage().contains("MatMul"), error.getMessage());
  }

  @Test
  void projectGradientsAreKnownToTensorFlow() {
    for (String opType : CustomGradients.opTypes()) {
      assertTrue(CustomGradients.hasGradient(opType), opType);
    }
    assertEquals(false, CustomGradients.hasGradient("Bucketize"));
    // int64 indices work as well as int32 ones.
    GradientChecker.Report report =
        checker.check(
            (tf, in) -> tf.tensorScatterNdAdd(in.get(0), tf.constant(new long[][] {{1}}), in.get(1)),
            List.of(Input.normal(random, 3), Input.normal(random, 1)));
    assertTrue(report.maxRelativeError() < TOLERANCE, report.toString());
  }
}
