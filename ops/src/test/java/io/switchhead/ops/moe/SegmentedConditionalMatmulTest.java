package io.switchhead.ops.moe;

import static io.switchhead.ops.moe.MatmulProblem.DISTINCT;
import static io.switchhead.ops.moe.MatmulProblem.EVEN_ONLY;
import static io.switchhead.ops.moe.MatmulProblem.UNIFORM;
import static io.switchhead.ops.moe.MatmulProblem.allTo;

import io.switchhead.testing.Seeded;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;

/** The segmented (plain-graph) matmul against the dense reference: forward and all three gradients. */
class SegmentedConditionalMatmulTest {

  @Seeded private Random random;
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

  /** Central differences in float64 for x, w and the gates; the odd experts get no row. */
  @Test
  void gradientsMatchFiniteDifferences() {
    MatmulShapes s = new MatmulShapes(9, 4, 3, 5, 2);
    MatmulRunner.assertGradientsMatchFiniteDifferences(segmented, s, EVEN_ONLY, random);
  }
}
