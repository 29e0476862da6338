package io.switchhead.ops.moe;

import static io.switchhead.ops.moe.MatmulProblem.DISTINCT;
import static io.switchhead.ops.moe.MatmulProblem.EVEN_ONLY;
import static io.switchhead.ops.moe.MatmulProblem.UNIFORM;
import static io.switchhead.ops.moe.MatmulProblem.allTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.testing.Seeded;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;

/**
 * The capacity matmul against the dense reference run on the pairs it keeps: which pairs an expert
 * keeps (its first C, in row-major order) is worked out here in plain Java, independently of the
 * graph's prefix counts.
 */
class CapacityConditionalMatmulTest {

  @Seeded private Random random;
  private final ConditionalMatmul dense = new DenseConditionalMatmul();

  /** 1 for the pairs within their expert's first C, in row-major pair order. */
  private static double[] keptMask(int[] ids, int experts, int capacity) {
    int[] taken = new int[experts];
    double[] kept = new double[ids.length];
    for (int t = 0; t < ids.length; t++) {
      kept[t] = taken[ids[t]]++ < capacity ? 1 : 0;
    }
    return kept;
  }

  /** Dense on the kept pairs: their gates as given, the dropped ones' zero, and no gradient for those. */
  private MatmulRunner.Outputs reference(MatmulProblem p, double[] kept) {
    double[] gates = p.gates().clone();
    for (int t = 0; t < gates.length; t++) {
      gates[t] *= kept[t];
    }
    MatmulRunner.Outputs out =
        MatmulRunner.plain(dense, new MatmulProblem(p.shapes(), p.x(), p.w(), p.ids(), gates, p.r(), p.slots()), TFloat64.class);
    double[] dGates = out.dGates().clone();
    for (int t = 0; t < dGates.length; t++) {
      dGates[t] *= kept[t];
    }
    return new MatmulRunner.Outputs(out.y(), out.dx(), out.dw(), dGates);
  }

  /** Checks forward and gradients, and returns how many pairs the case dropped. */
  private int check(MatmulShapes s, MatmulProblem.Routing routing, double factor, String what) {
    return check(s, routing, new CapacityConditionalMatmul(factor), what);
  }

  private int check(MatmulShapes s, MatmulProblem.Routing routing, CapacityConditionalMatmul capacity, String what) {
    int dropped = -1;
    for (boolean slots : new boolean[] {false, true}) {
      MatmulProblem p = MatmulProblem.random(random, s, routing, slots);
      double[] kept = keptMask(p.ids(), s.experts(), capacity.capacity(s));
      String name = what + " " + s + " C=" + capacity.capacity(s) + (slots ? " slots" : " summed");
      MatmulRunner.Outputs expected = reference(p, kept);
      Compare.assertClose(MatmulRunner.plain(capacity, p, TFloat64.class), expected, 1e-10, name + " float64");
      Compare.assertClose(MatmulRunner.plain(capacity, p, TFloat32.class), expected, 1e-5, name + " float32");
      int droppedHere = (int) (kept.length - Arrays.stream(kept).sum());
      assertEquals(droppedHere, MatmulRunner.countOver(s, p.ids(), (tf, ids) -> capacity.droppedPairs(tf, ids, s.experts())), name + ": droppedPairs");
      dropped = Math.max(dropped, droppedHere);
    }
    return dropped;
  }

  @Test
  void equalsDenseOnTheKeptPairsOverTheShapesThatBreakRouting() {
    assertEquals(0, check(new MatmulShapes(37, 6, 5, 3, 2), UNIFORM, 3.0, "room for every pair (factor M)"), "nothing to drop");
    assertTrue(check(new MatmulShapes(37, 6, 5, 3, 2), UNIFORM, 0.5, "half the room") > 0);
    assertTrue(check(new MatmulShapes(13, 3, 2, 16, 2), EVEN_ONLY, 1.0, "experts without rows") > 0);
    assertEquals(11 - 3, check(new MatmulShapes(11, 4, 3, 5, 1), allTo(3), 1.0, "all to one, k=1"), "C = ceil(11/5) = 3 kept");
    assertEquals(18 - 4, check(new MatmulShapes(9, 4, 3, 5, 2), allTo(4), 1.0, "all to the last, twice"), "C = ceil(18/5) = 4 kept");
    assertEquals(0, check(new MatmulShapes(5, 4, 3, 6, 6), DISTINCT, 1.0, "k=M, every expert once per row"));
    assertEquals(0, check(new MatmulShapes(6, 4, 3, 1, 2), UNIFORM, 1.0, "M=1"));
    check(new MatmulShapes(50, 4, 3, 64, 3), UNIFORM, 1.25, "M=64");
  }

  @Test
  void compilesUnderXlaToThePlainGraphsResults() {
    CapacityConditionalMatmul capacity = new CapacityConditionalMatmul(0.75);
    for (boolean slots : new boolean[] {false, true}) {
      MatmulProblem p = MatmulProblem.random(random, new MatmulShapes(23, 4, 3, 6, 2), UNIFORM, slots);
      MatmulRunner.Outputs plain = MatmulRunner.plain(capacity, p, TFloat64.class);
      Compare.assertClose(MatmulRunner.xla(capacity, p, TFloat64.class), plain, 1e-10, "XLA vs plain" + (slots ? " slots" : ""));
      Compare.assertClose(plain, reference(p, keptMask(p.ids(), 6, capacity.capacity(p.shapes()))), 1e-10, "plain vs dense");
    }
  }

  /**
   * Past {@link MoeTuning#CAPACITY_REGION_SINGLE_GROUP_MAX_ROWS} buffer rows the region loops over groups of
   * experts (here 2 groups of 4): forward and gradients against the dense reference, plain graph
   * and XLA.
   */
  @Test
  void largeBuffersLoopOverGroupsOfExperts() {
    CapacityConditionalMatmul capacity = new CapacityConditionalMatmul(1.0);
    MatmulShapes s = new MatmulShapes(2100, 3, 2, 8, 2);
    CapacityRegion region = CapacityRegion.of(s, capacity.capacity(s));
    assertEquals(2, region.groups(), region.toString());
    for (boolean slots : new boolean[] {false, true}) {
      MatmulProblem p = MatmulProblem.random(random, s, UNIFORM, slots);
      MatmulRunner.Outputs expected = reference(p, keptMask(p.ids(), s.experts(), capacity.capacity(s)));
      Compare.assertClose(MatmulRunner.plain(capacity, p, TFloat64.class), expected, 1e-10, "plain" + (slots ? " slots" : ""));
      Compare.assertClose(MatmulRunner.xla(capacity, p, TFloat64.class), expected, 1e-10, "XLA" + (slots ? " slots" : ""));
    }
  }

  /** Central differences in float64 for x, w and the gates, with a capacity that drops pairs. */
  @Test
  void gradientsMatchFiniteDifferences() {
    MatmulRunner.assertGradientsMatchFiniteDifferences(new CapacityConditionalMatmul(0.6), new MatmulShapes(9, 4, 3, 5, 2), UNIFORM, random);
  }

  @Test
  void aFixedCapacityKeepsThatManyPairsPerExpertWhateverTheShapes() {
    MatmulShapes s = new MatmulShapes(11, 4, 3, 5, 2);
    CapacityConditionalMatmul two = CapacityConditionalMatmul.withCapacity(2);
    assertEquals(5, new CapacityConditionalMatmul(1.0).capacity(s), "the factor rule: ceil(22 / 5)");
    assertEquals(2, two.capacity(s));
    assertEquals(2, two.capacity(new MatmulShapes(40, 4, 3, 5, 1)));
    assertEquals(22 - 2, check(s, allTo(4), two, "all to the last, twice, C = 2"));
    assertTrue(check(new MatmulShapes(23, 4, 3, 6, 2), UNIFORM, two, "uniform, C = 2") > 0);
    assertEquals(0, check(new MatmulShapes(7, 4, 3, 3, 2), DISTINCT, CapacityConditionalMatmul.withCapacity(7), "C = N, distinct experts per row"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CapacityConditionalMatmul.withCapacity(0));
    assertTrue(e.getMessage().contains("capacity must be >= 1, got 0"), e.getMessage());
  }

  @Test
  void badFactorsAreNamed() {
    for (double bad : new double[] {0, -1, Double.NaN, Double.POSITIVE_INFINITY}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new CapacityConditionalMatmul(bad));
      assertTrue(e.getMessage().contains("capacityFactor"), e.getMessage());
    }
  }

}
