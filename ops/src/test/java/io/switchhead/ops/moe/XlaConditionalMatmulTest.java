package io.switchhead.ops.moe;

import static io.switchhead.ops.moe.MatmulProblem.UNIFORM;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import io.switchhead.testing.Seeded;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.types.TFloat64;

/** Which layout XLA steps get, and that it gives the dense reference's results at the shapes of either choice. */
class XlaConditionalMatmulTest {

  @Seeded private Random random;

  @Test
  void spillWhereTheBlockLayoutWouldLoop() {
    for (int m : new int[] {4, 8, 16, 32, 64}) {
      assertEquals(
          SpillConditionalMatmul.withDefaults(), XlaConditionalMatmul.layoutFor(new MatmulShapes(8192, 512, 128, m, 2)), "benchmark shapes, M=" + m);
    }
    // Small problems run the block layout in one group, without a loop op, whatever M.
    assertInstanceOf(SortedConditionalMatmul.class, XlaConditionalMatmul.layoutFor(new MatmulShapes(1024, 64, 64, 64, 2)));
    assertInstanceOf(SortedConditionalMatmul.class, XlaConditionalMatmul.layoutFor(new MatmulShapes(4096, 512, 128, 4, 2)));
  }

  /**
   * The benchmark's M = 64 routing (N*k = 16400, so the spill layout with its defaults, over
   * several groups) with narrow rows, and a small problem (the block layout).
   */
  @Test
  void equalsDenseWhereItChoosesSpillAndWhereItChoosesBlocks() {
    MatmulShapes spilling = new MatmulShapes(8200, 3, 2, 64, 2);
    assertInstanceOf(SpillConditionalMatmul.class, XlaConditionalMatmul.layoutFor(spilling));
    for (MatmulShapes s : new MatmulShapes[] {spilling, new MatmulShapes(13, 4, 3, 5, 2)}) {
      MatmulProblem p = MatmulProblem.random(random, s, UNIFORM, s.rows() < 100);
      Compare.assertClose(
          MatmulRunner.plain(new XlaConditionalMatmul(), p, TFloat64.class),
          MatmulRunner.plain(new DenseConditionalMatmul(), p, TFloat64.class),
          1e-10,
          XlaConditionalMatmul.layoutFor(s) + " vs dense at " + s);
    }
  }
}
