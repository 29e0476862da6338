package io.switchhead.ops.moe;

import static io.switchhead.ops.moe.MatmulProblem.DISTINCT;
import static io.switchhead.ops.moe.MatmulProblem.EVEN_ONLY;
import static io.switchhead.ops.moe.MatmulProblem.UNIFORM;
import static io.switchhead.ops.moe.MatmulProblem.allTo;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.check.GradientChecker;
import io.switchhead.ops.check.GradientChecker.Input;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;

/** The segmented (plain-graph) matmul against the dense reference: forward and all three gradients. */
class SegmentedConditionalMatmulTest {

  private final Random random = new Random();
  private final ConditionalMatmul dense = new DenseConditionalMatmul();
  private final ConditionalMatmul segmented = new SegmentedConditionalMatmul();

  private void check(MatmulShapes s, MatmulProblem.Routing routing, String what) {
    for (boolean slots : new boolean[] {false, true}) {
      MatmulProblem p = MatmulProblem.random(random, s, routing, slots);
      String name = what + " " + s + (slots ? " slots" : " summed");
      MatmulRunner.Outputs reference = MatmulRunner.plain(dense, p, TFloat64.class);
      Compare.assertClose(MatmulRunner.plain(segmented, p, TFloat64.class), reference, 1e-10, name + " float64");
      Compare.assertClose(MatmulRunner.plain(segmented, p, TFloat32.class), reference, 1e-5, name + " float32");
    }
  }

  @Test
  void equalsTheDenseReferenceOverTheShapesThatBreakRouting() {
    check(new MatmulShapes(37, 6, 5, 3, 2), UNIFORM, "uniform");
    check(new MatmulShapes(13, 3, 2, 16, 2), EVEN_ONLY, "experts without rows");
    check(new MatmulShapes(3, 4, 3, 32, 2), UNIFORM, "more experts than pairs");
    check(new MatmulShapes(11, 4, 3, 5, 1), allTo(3), "all to one, k=1");
    check(new MatmulShapes(9, 4, 3, 5, 2), allTo(4), "all to the last, twice");
    check(new MatmulShapes(5, 4, 3, 6, 6), DISTINCT, "k=M");
    check(new MatmulShapes(6, 4, 3, 1, 2), UNIFORM, "M=1");
    check(new MatmulShapes(50, 4, 3, 64, 3), UNIFORM, "M=64");
  }

  /** Central differences in float64 for x, w and the gates; one expert gets no row, one gets many. */
  @Test
  void gradientsMatchFiniteDifferences() {
    MatmulShapes s = new MatmulShapes(9, 4, 3, 5, 2);
    int[][] ids = new int[s.rows()][s.k()];
    for (int[] row : ids) {
      for (int j = 0; j < row.length; j++) {
        row[j] = random.nextInt(s.experts() - 1); // the last expert receives no row
      }
    }
    GradientChecker checker = new GradientChecker().seed(random.nextLong());
    for (boolean slots : new boolean[] {false, true}) {
      GradientChecker.Report report =
          checker.check(
              (tf, in) -> {
                Operand<TInt32> idsConst = tf.constant(ids);
                return slots
                    ? segmented.slotOutputs(tf, in.get(0), in.get(1), idsConst, in.get(2))
                    : segmented.apply(tf, in.get(0), in.get(1), idsConst, in.get(2));
              },
              List.of(
                  Input.normal(random, s.rows(), s.dIn()),
                  Input.normal(random, s.experts(), s.dIn(), s.dOut()),
                  Input.normal(random, s.rows(), s.k())));
      assertTrue(report.maxRelativeError() < 1e-6, (slots ? "slots: " : "summed: ") + report);
    }
  }
}
