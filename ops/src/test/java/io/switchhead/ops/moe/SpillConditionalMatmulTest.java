package io.switchhead.ops.moe;

import static io.switchhead.ops.moe.MatmulProblem.DISTINCT;
import static io.switchhead.ops.moe.MatmulProblem.EVEN_ONLY;
import static io.switchhead.ops.moe.MatmulProblem.UNIFORM;
import static io.switchhead.ops.moe.MatmulProblem.allTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.testing.Seeded;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;

/**
 * The spill matmul against the dense reference, forward and all three gradients: it is dropless,
 * so every pair counts, whichever region holds it. Which pairs spill (those past their expert's
 * first C, in row-major order) is counted here in plain Java, so each case is known to exercise
 * the spill loop, or to leave it idle.
 */
class SpillConditionalMatmulTest {

  @Seeded private Random random;
  private final ConditionalMatmul dense = new DenseConditionalMatmul();

  /** The pairs past their expert's first {@code capacity}, in row-major pair order. */
  private static int spilled(int[] ids, int experts, int capacity) {
    int[] taken = new int[experts];
    int spilled = 0;
    for (int id : ids) {
      if (taken[id]++ >= capacity) {
        spilled++;
      }
    }
    return spilled;
  }

  /** Checks forward and gradients in float64 and float32; returns the most pairs any run spilled. */
  private int check(MatmulShapes s, MatmulProblem.Routing routing, SpillConditionalMatmul spill, String what) {
    int most = 0;
    for (boolean slots : new boolean[] {false, true}) {
      MatmulProblem p = MatmulProblem.random(random, s, routing, slots);
      int spilledHere = spilled(p.ids(), s.experts(), spill.capacity(s));
      String name = what + " " + s + " " + spill + " spilled " + spilledHere + (slots ? " slots" : " summed");
      MatmulRunner.Outputs reference = MatmulRunner.plain(dense, p, TFloat64.class);
      Compare.assertClose(MatmulRunner.plain(spill, p, TFloat64.class), reference, 1e-10, name + " float64");
      Compare.assertClose(MatmulRunner.plain(spill, p, TFloat32.class), reference, 1e-5, name + " float32");
      assertEquals(spilledHere, MatmulRunner.countOver(s, p.ids(), (tf, ids) -> spill.spilledPairs(tf, ids, s.experts())), name + ": spilledPairs");
      most = Math.max(most, spilledHere);
    }
    return most;
  }

  @Test
  void equalsDenseOverTheShapesThatBreakRouting() {
    assertTrue(check(new MatmulShapes(37, 6, 5, 3, 2), UNIFORM, new SpillConditionalMatmul(0.5, 4, 2), "half the room") > 0);
    assertTrue(check(new MatmulShapes(13, 3, 2, 16, 2), EVEN_ONLY, new SpillConditionalMatmul(1.0, 3, 2), "experts without rows") > 0);
    // Everything on one expert: C of the pairs in capacity, the rest spill over many loop iterations.
    assertEquals(11 - 3, check(new MatmulShapes(11, 4, 3, 5, 1), allTo(3), new SpillConditionalMatmul(1.0, 2, 1), "all to one, k=1"));
    assertEquals(18 - 4, check(new MatmulShapes(9, 4, 3, 5, 2), allTo(4), new SpillConditionalMatmul(1.0, 4, 2), "all to the last, twice"));
    assertEquals(0, check(new MatmulShapes(5, 4, 3, 6, 6), DISTINCT, new SpillConditionalMatmul(1.0, 2, 2), "k=M, nothing spills"));
    assertEquals(0, check(new MatmulShapes(6, 4, 3, 1, 2), UNIFORM, SpillConditionalMatmul.withDefaults(), "M=1"));
    assertTrue(check(new MatmulShapes(50, 4, 3, 64, 3), UNIFORM, new SpillConditionalMatmul(1.0, 2, 3), "M=64") > 0);
    assertEquals(0, check(new MatmulShapes(19, 4, 3, 5, 2), UNIFORM, new SpillConditionalMatmul(5.0, 4, 2), "room for all: the loop idles"));
    assertTrue(check(new MatmulShapes(40, 5, 3, 4, 2), UNIFORM, SpillConditionalMatmul.withDefaults(), "default blocks") >= 0);
  }

  @Test
  void compilesUnderXlaToThePlainGraphsResults() {
    SpillConditionalMatmul spill = new SpillConditionalMatmul(0.75, 3, 2);
    for (MatmulProblem.Routing routing : new MatmulProblem.Routing[] {UNIFORM, allTo(5)}) {
      for (boolean slots : new boolean[] {false, true}) {
        MatmulProblem p = MatmulProblem.random(random, new MatmulShapes(23, 4, 3, 6, 2), routing, slots);
        String name = (slots ? "slots" : "summed") + ", spilled " + spilled(p.ids(), 6, spill.capacity(p.shapes()));
        MatmulRunner.Outputs plain = MatmulRunner.plain(spill, p, TFloat64.class);
        Compare.assertClose(MatmulRunner.xla(spill, p, TFloat64.class), plain, 1e-10, name + ": XLA vs plain");
        Compare.assertClose(plain, MatmulRunner.plain(dense, p, TFloat64.class), 1e-10, name + ": plain vs dense");
        Compare.assertClose(MatmulRunner.xla(spill, p, TFloat32.class), plain, 1e-5, name + ": XLA float32 vs plain float64");
      }
    }
  }

  /**
   * Capacity regions past one group: 2 groups of 4 experts with C = 518 (the backward loops too),
   * and 2 groups of 8 with C = 259 (the backward in one piece); pairs spilling; plain graph and XLA.
   */
  @Test
  void largeCapacityRegionsLoopOverGroupsOfExperts() {
    SpillConditionalMatmul spill = new SpillConditionalMatmul(0.9, 8, 4);
    for (MatmulShapes s : new MatmulShapes[] {new MatmulShapes(2300, 3, 2, 8, 2), new MatmulShapes(2300, 3, 2, 16, 2)}) {
      CapacityRegion region = CapacityRegion.of(s, spill.capacity(s));
      assertEquals(2, region.groups(), region.toString());
      assertEquals(s.experts() == 8, region.backwardLoops(), region.toString());
      for (boolean slots : new boolean[] {false, true}) {
        MatmulProblem p = MatmulProblem.random(random, s, UNIFORM, slots);
        String name = region + (slots ? " slots" : " summed") + ", spilled " + spilled(p.ids(), s.experts(), spill.capacity(s));
        MatmulRunner.Outputs reference = MatmulRunner.plain(dense, p, TFloat64.class);
        Compare.assertClose(MatmulRunner.plain(spill, p, TFloat64.class), reference, 1e-10, name + ": plain vs dense");
        Compare.assertClose(MatmulRunner.xla(spill, p, TFloat64.class), reference, 1e-10, name + ": XLA vs dense");
      }
    }
  }

  /** Central differences in float64 for x, w and the gates, with pairs in both regions. */
  @Test
  void gradientsMatchFiniteDifferences() {
    MatmulRunner.assertGradientsMatchFiniteDifferences(new SpillConditionalMatmul(0.6, 2, 2), new MatmulShapes(9, 4, 3, 5, 2), UNIFORM, random);
  }

  @Test
  void badArgumentsAreNamed() {
    for (double bad : new double[] {0, -1, Double.NaN, Double.POSITIVE_INFINITY}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new SpillConditionalMatmul(bad, 16, 16));
      assertTrue(e.getMessage().contains("capacityFactor"), e.getMessage());
    }
    IllegalArgumentException block = assertThrows(IllegalArgumentException.class, () -> new SpillConditionalMatmul(1, 0, 16));
    assertTrue(block.getMessage().contains("spillBlockSize"), block.getMessage());
    IllegalArgumentException group = assertThrows(IllegalArgumentException.class, () -> new SpillConditionalMatmul(1, 16, 0));
    assertTrue(group.getMessage().contains("spillGroupBlocks"), group.getMessage());
  }

}
