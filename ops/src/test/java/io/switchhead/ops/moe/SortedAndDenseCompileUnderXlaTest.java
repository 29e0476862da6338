package io.switchhead.ops.moe;

import static io.switchhead.ops.moe.MatmulProblem.DISTINCT;
import static io.switchhead.ops.moe.MatmulProblem.UNIFORM;
import static io.switchhead.ops.moe.MatmulProblem.allTo;

import io.switchhead.testing.Seeded;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;

/**
 * The sorted (block) and dense layouts compile under XLA: forward and gradients as one
 * must-compile XLA function (no op may fall back to TensorFlow) give the plain graph's results,
 * and the dense reference's. The spill and capacity layouts' tests check theirs.
 */
class SortedAndDenseCompileUnderXlaTest {

  @Seeded private Random random;
  private final ConditionalMatmul dense = new DenseConditionalMatmul();

  private void check(MatmulShapes s, MatmulProblem.Routing routing, SortedConditionalMatmul sorted, boolean slots, boolean float32) {
    MatmulProblem p = MatmulProblem.random(random, s, routing, slots);
    String name = s + " B=" + sorted.layout(s).blockSize() + (slots ? " slots" : " summed");
    MatmulRunner.Outputs reference = MatmulRunner.plain(dense, p, TFloat64.class);
    Compare.assertClose(MatmulRunner.xla(sorted, p, TFloat64.class), reference, 1e-10, name + " float64 XLA vs dense");
    Compare.assertClose(MatmulRunner.xla(sorted, p, TFloat64.class), MatmulRunner.plain(sorted, p, TFloat64.class), 1e-10,
        name + " float64 XLA vs plain graph");
    if (float32) {
      Compare.assertClose(MatmulRunner.xla(sorted, p, TFloat32.class), reference, 1e-5, name + " float32 XLA vs dense");
    }
  }

  @Test
  void sortedCompilesAndMatches() {
    check(new MatmulShapes(7, 5, 3, 4, 2), UNIFORM, SortedConditionalMatmul.withDefaultBlockSize(), false, true);
    check(new MatmulShapes(7, 5, 3, 4, 2), UNIFORM, SortedConditionalMatmul.withDefaultBlockSize(), true, true);
    check(new MatmulShapes(9, 4, 3, 5, 2), allTo(4), SortedConditionalMatmul.withBlockSize(4), false, false);
    check(new MatmulShapes(5, 4, 3, 6, 6), DISTINCT, SortedConditionalMatmul.withBlockSize(3), true, false);
    // Several loop iterations, and trailing groups skipped.
    check(new MatmulShapes(23, 4, 3, 6, 2), UNIFORM, SortedConditionalMatmul.withBlocks(4, 2), false, true);
    check(new MatmulShapes(23, 4, 3, 6, 2), allTo(5), SortedConditionalMatmul.withBlocks(4, 2), true, false);
  }

  @Test
  void denseCompilesAndMatches() {
    for (boolean slots : new boolean[] {false, true}) {
      MatmulProblem p = MatmulProblem.random(random, new MatmulShapes(6, 4, 3, 5, 2), UNIFORM, slots);
      Compare.assertClose(MatmulRunner.xla(dense, p, TFloat64.class), MatmulRunner.plain(dense, p, TFloat64.class), 1e-10,
          "dense XLA vs plain" + (slots ? " slots" : ""));
    }
  }
}
