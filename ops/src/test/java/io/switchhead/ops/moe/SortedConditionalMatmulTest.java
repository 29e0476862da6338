package io.switchhead.ops.moe;

import static io.switchhead.ops.moe.MatmulProblem.DISTINCT;
import static io.switchhead.ops.moe.MatmulProblem.EVEN_ONLY;
import static io.switchhead.ops.moe.MatmulProblem.UNIFORM;
import static io.switchhead.ops.moe.MatmulProblem.allTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.GraphOps;
import io.switchhead.ops.gradients.GradientCoverage;
import io.switchhead.ops.gradients.Gradients;
import io.switchhead.testing.Seeded;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/** The sorted matmul against the dense reference: forward and all three gradients, fresh inputs each run. */
class SortedConditionalMatmulTest {

  @Seeded private Random random;
  private final ConditionalMatmul dense = new DenseConditionalMatmul();

  /** Sorted vs dense, summed and per-slot outputs, in float64 (1e-10) and float32 (1e-5, vs float64 dense). */
  private void check(MatmulShapes s, MatmulProblem.Routing routing, SortedConditionalMatmul sorted, String what) {
    for (boolean slots : new boolean[] {false, true}) {
      MatmulProblem p = MatmulProblem.random(random, s, routing, slots);
      String name = what + " " + s + " B=" + sorted.layout(s).blockSize() + (slots ? " slots" : " summed");
      MatmulRunner.Outputs reference = MatmulRunner.plain(dense, p, TFloat64.class);
      Compare.assertClose(MatmulRunner.plain(sorted, p, TFloat64.class), reference, 1e-10, name + " float64");
      Compare.assertClose(MatmulRunner.plain(sorted, p, TFloat32.class), reference, 1e-5, name + " float32");
    }
  }

  private static SortedConditionalMatmul byDefault() {
    return SortedConditionalMatmul.withDefaultBlockSize();
  }

  @Test
  void rowsNotAMultipleOfTheBlockSize() {
    check(new MatmulShapes(7, 5, 3, 4, 2), UNIFORM, byDefault(), "uniform");
    check(new MatmulShapes(37, 6, 5, 3, 2), UNIFORM, SortedConditionalMatmul.withBlockSize(16), "uniform");
  }

  @Test
  void expertsThatReceiveNoRow() {
    check(new MatmulShapes(13, 3, 2, 16, 2), EVEN_ONLY, byDefault(), "even experts only");
    // More experts than pairs: most get nothing.
    check(new MatmulShapes(3, 4, 3, 32, 2), UNIFORM, byDefault(), "sparse");
  }

  @Test
  void everyRowToOneExpert() {
    check(new MatmulShapes(11, 4, 3, 5, 1), allTo(3), byDefault(), "all to 3");
    // k = 2 with both slots on the same expert: the two slots add.
    check(new MatmulShapes(9, 4, 3, 5, 2), allTo(4), SortedConditionalMatmul.withBlockSize(4), "all to last, twice");
  }

  @Test
  void oneSlotAndAllExperts() {
    check(new MatmulShapes(10, 5, 4, 6, 1), UNIFORM, byDefault(), "k=1");
    check(new MatmulShapes(5, 4, 3, 6, 6), DISTINCT, byDefault(), "k=M");
    check(new MatmulShapes(4, 3, 2, 3, 3), DISTINCT, SortedConditionalMatmul.withBlockSize(2), "k=M small blocks");
  }

  @Test
  void expertCountsFromOneToSixtyFour() {
    check(new MatmulShapes(6, 4, 3, 1, 1), UNIFORM, byDefault(), "M=1");
    check(new MatmulShapes(6, 4, 3, 1, 2), UNIFORM, byDefault(), "M=1 twice");
    check(new MatmulShapes(8, 3, 5, 2, 2), UNIFORM, byDefault(), "M=2");
    check(new MatmulShapes(50, 4, 3, 64, 3), UNIFORM, byDefault(), "M=64");
  }

  @Test
  void blockSizeOverride() {
    MatmulShapes s = new MatmulShapes(19, 4, 3, 5, 2);
    for (int b : new int[] {1, 3, 8, 64}) {
      check(s, UNIFORM, SortedConditionalMatmul.withBlockSize(b), "override");
    }
  }

  /**
   * Small groups make the loop run several iterations and skip the trailing ones the routing leaves
   * empty (with every row on one expert, most of the worst-case buffer is skipped).
   */
  @Test
  void loopOverSeveralGroupsOfBlocks() {
    MatmulShapes s = new MatmulShapes(23, 4, 3, 6, 2);
    for (int g : new int[] {1, 2, 3}) {
      check(s, UNIFORM, SortedConditionalMatmul.withBlocks(4, g), "groups of " + g);
      check(s, allTo(5), SortedConditionalMatmul.withBlocks(4, g), "all to last, groups of " + g);
    }
  }

  @Test
  void gradientsMatchFiniteDifferences() {
    MatmulShapes s = new MatmulShapes(9, 4, 3, 5, 2);
    MatmulRunner.assertGradientsMatchFiniteDifferences(SortedConditionalMatmul.withBlockSize(4), s, UNIFORM, random);
    MatmulRunner.assertGradientsMatchFiniteDifferences(SortedConditionalMatmul.withBlocks(2, 2), s, UNIFORM, random);
  }

  private static final List<String> SCATTERS =
      List.of("UnsortedSegmentSum", "ScatterNd", "TensorScatterAdd", "TensorScatterUpdate", "SegmentSum");

  /** Builds sorted on [16, 8] x [4, 8, 6], k = 2, and its gradients; returns the graph's backward op counts. */
  private static Map<String, Integer> backwardOps(Graph g, SortedConditionalMatmul sorted) {
    Ops tf = GraphOps.create(g);
    var x = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(16, 8)));
    var w = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(4, 8, 6)));
    var ids = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(16, 2)));
    var gates = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(16, 2)));
    Operand<TFloat32> y = sorted.apply(tf, x, w, ids, gates);
    List<Operand<?>> grads = Gradients.of(tf, tf.reduceSum(y, tf.constant(new int[] {0, 1})), List.of(x, w, gates));
    assertTrue(GradientCoverage.missingGradients(g, y, List.of(x, w, gates)).isEmpty());
    assertEquals(3, grads.size());
    return opCounts(g, "gradients");
  }

  private static int scatters(Map<String, Integer> ops) {
    return SCATTERS.stream().mapToInt(type -> ops.getOrDefault(type, 0)).sum();
  }

  /**
   * Pins the backward's design with several groups: one loop over the groups of blocks, whose body
   * gathers, runs BatchMatMulV2 (which oneDNN rewrites; V3 it does not) and writes with exactly two
   * scatter-like ops (the group's rows of the dx buffer, and its blocks' dW added into their
   * experts). TensorFlow's own gradients would add a scatter per gather and BatchMatMulV3.
   */
  @Test
  void backwardLoopGathersAndScattersOnlyItsResults() {
    try (Graph g = new Graph()) {
      Map<String, Integer> backward = backwardOps(g, SortedConditionalMatmul.withBlocks(4, 2));
      assertEquals(1, backward.getOrDefault("StatelessWhile", 0), "backward ops: " + backward);
      assertEquals(0, scatters(backward), "backward ops: " + backward);
      Map<String, Integer> body = functionOpCounts(g, "sortedMatmulBackward_.*_body.*");
      assertEquals(0, body.getOrDefault("BatchMatMulV3", 0), "backward loop ops: " + body);
      assertEquals(2, body.getOrDefault("BatchMatMulV2", 0), "backward loop ops: " + body);
      assertEquals(2, scatters(body), "backward loop ops: " + body);
    }
  }

  /** With one group (small problems) the same computation runs without a loop op: one segment sum. */
  @Test
  void backwardOfOneGroupRunsWithoutALoop() {
    try (Graph g = new Graph()) {
      Map<String, Integer> backward = backwardOps(g, byDefault());
      assertEquals(0, backward.getOrDefault("StatelessWhile", 0), "backward ops: " + backward);
      assertEquals(0, backward.getOrDefault("BatchMatMulV3", 0), "backward ops: " + backward);
      assertEquals(2, backward.getOrDefault("BatchMatMulV2", 0), "backward ops: " + backward);
      assertEquals(1, scatters(backward), "backward ops: " + backward);
    }
  }

  @Test
  void twoMatmulsInOneGraph() {
    // Node names (the tagged IdentityN, BatchMatMulV2) must be made unique by the scope.
    MatmulShapes s = new MatmulShapes(6, 3, 2, 4, 2);
    MatmulProblem p = MatmulProblem.random(random, s, UNIFORM, false);
    ConditionalMatmul twice =
        new ConditionalMatmul() {
          @Override
          public <T extends TFloating> Operand<T> slotOutputs(
              Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates) {
            throw new UnsupportedOperationException();
          }

          @Override
          public <T extends TFloating> Operand<T> apply(
              Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates) {
            Operand<T> a = byDefault().apply(tf, x, w, ids, gates);
            Operand<T> b = SortedConditionalMatmul.withBlockSize(2).apply(tf, x, w, ids, gates);
            return tf.math.mul(tf.math.add(a, b), tf.dtypes.cast(tf.constant(0.5), x.type()));
          }
        };
    Compare.assertClose(MatmulRunner.plain(twice, p, TFloat64.class), MatmulRunner.plain(dense, p, TFloat64.class), 1e-10, "twice");
  }

  /** Op types in the graph's one function whose name matches {@code pattern}. */
  private static Map<String, Integer> functionOpCounts(Graph g, String pattern) {
    Map<String, Integer> counts = new TreeMap<>();
    int found = 0;
    for (ConcreteFunction f : g.getFunctions()) {
      try (f) {
        if (f.getDefinedName().matches(pattern)) {
          found++;
          f.getFunctionDef().getNodeDefList().forEach(n -> counts.merge(n.getOp(), 1, Integer::sum));
        }
      }
    }
    assertEquals(1, found, "functions named like " + pattern);
    return counts;
  }

  private static Map<String, Integer> opCounts(Graph g, String prefix) {
    Map<String, Integer> counts = new TreeMap<>();
    g.operations().forEachRemaining(
        op -> {
          if (op.name().startsWith(prefix)) {
            counts.merge(op.type(), 1, Integer::sum);
          }
        });
    return counts;
  }
}
