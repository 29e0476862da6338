package io.switchhead.ops.moe;

import static io.switchhead.ops.moe.MatmulProblem.DISTINCT;
import static io.switchhead.ops.moe.MatmulProblem.EVEN_ONLY;
import static io.switchhead.ops.moe.MatmulProblem.UNIFORM;
import static io.switchhead.ops.moe.MatmulProblem.allTo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.GraphOps;
import io.switchhead.testing.Seeded;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;

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
    check(new MatmulShapes(21, 16, 32, 4, 2), UNIFORM, "rows already aligned, no pads");
  }

  @Test
  void segmentsArePaddedToTheFewestRowsThatKeepEverySplitAligned() {
    assertEquals(4, ExpertSegments.alignmentRows(412 * 4, 76 * 4), "switchhead-47m's values: 1,648 and 304 bytes");
    assertEquals(1, ExpertSegments.alignmentRows(512 * 4, 112 * 4), "the Enwik8 model's: already aligned");
    assertEquals(16, ExpertSegments.alignmentRows(6 * 4, 5 * 4), "24 and 20 bytes: 8 and 16 rows");
    assertEquals(64, ExpertSegments.alignmentRows(3, 64), "one odd width");
  }

  /**
   * What the backward keeps: the forward's sorted input rows (k copies of x) are read by the
   * forward's own matmuls alone, never by a gradient op, so they are freed as the forward goes on.
   */
  @Test
  void theBackwardReadsXNotItsSortedCopies() {
    MatmulShapes s = new MatmulShapes(12, 4, 3, 5, 2);
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      Operand<TFloat64> x = tf.withName("x").placeholder(TFloat64.class, Placeholder.shape(Shape.of(s.rows(), s.dIn())));
      MatmulRunner.step(tf, segmented, x, floats(tf, s.experts(), s.dIn(), s.dOut()),
          tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(s.rows(), s.k()))), floats(tf, s.rows(), s.k()),
          floats(tf, s.rows(), s.k(), s.dOut()), true);
      List<GraphOperation> splits = new ArrayList<>();
      g.operations().forEachRemaining(op -> {
        if (op.type().equals("SplitV") && op.name().startsWith(SegmentedConditionalMatmul.SCOPE + "/")) {
          splits.add((GraphOperation) op);
        }
      });
      assertEquals(1, splits.size(), "the forward's one split of the sorted rows: " + splits);
      // Rows of 4 float64 values are not 64-byte aligned: the split runs on the flattened rows and
      // each part is reshaped back to rows.
      assertEquals(1, splits.get(0).input(0).shape().numDimensions(), "the split is of the flattened rows");
      Set<GraphOperation> readers = new HashSet<>();
      for (GraphOperation part : splits.get(0).consumers()) {
        assertEquals("Reshape", part.type(), "a part of the split is reshaped to rows");
        readers.addAll(part.consumers());
      }
      assertEquals(s.experts(), readers.size(), "its readers: " + readers);
      assertTrue(readers.stream().allMatch(op -> op.type().equals("MatMul") && op.name().startsWith(SegmentedConditionalMatmul.SCOPE + "/")),
          "only the forward's matmuls read the sorted rows: " + readers);
      // The backward's own gather of the sorted rows waits for the output's gradient, or it would
      // run in the forward pass and hold its copy until the backward.
      List<GraphOperation> regathers = new ArrayList<>();
      g.operations().forEachRemaining(op -> {
        if (op.type().equals("GatherV2") && op.name().contains("segmentedMatmulGrad/") && ((GraphOperation) op).numControlInputs() > 0) {
          regathers.add((GraphOperation) op);
        }
      });
      assertEquals(1, regathers.size(), "one gather of x after the output's gradient: " + regathers);
      assertEquals("x", regathers.get(0).input(0).op().name(), "it gathers x: " + regathers);
    }
  }

  private static Operand<TFloat64> floats(Ops tf, long... shape) {
    return tf.placeholder(TFloat64.class, Placeholder.shape(Shape.of(shape)));
  }

  /**
   * A row count known only at run time (a server's batch): one graph with [-1, ...] placeholders, run
   * at two N, gives what the static-N graph of each N gives, forward and gradients, and matches the
   * dense reference.
   */
  @Test
  void aRowCountKnownOnlyAtRunTimeGivesTheStaticResults() {
    for (boolean slots : new boolean[] {false, true}) {
      for (MatmulShapes[] pair : new MatmulShapes[][] {
          {new MatmulShapes(37, 6, 5, 3, 2), new MatmulShapes(4, 6, 5, 3, 2)},
          {new MatmulShapes(9, 4, 3, 1, 2), new MatmulShapes(2, 4, 3, 1, 2)}}) {
        List<MatmulProblem> problems = List.of(MatmulProblem.random(random, pair[0], UNIFORM, slots),
            MatmulProblem.random(random, pair[1], EVEN_ONLY, slots));
        List<MatmulRunner.Outputs> dynamic = MatmulRunner.plainAnyRows(segmented, problems, TFloat32.class, true);
        for (int i = 0; i < problems.size(); i++) {
          MatmulProblem p = problems.get(i);
          String name = p.shapes() + (slots ? " slots" : " summed");
          Compare.assertClose(dynamic.get(i), MatmulRunner.plain(segmented, p, TFloat32.class), 0, name + " against static N");
          Compare.assertClose(dynamic.get(i), MatmulRunner.plain(dense, p, TFloat64.class), 1e-5, name + " against dense");
        }
      }
    }
  }

  /** Central differences in float64 for x, w and the gates; the odd experts get no row. */
  @Test
  void gradientsMatchFiniteDifferences() {
    MatmulShapes s = new MatmulShapes(9, 4, 3, 5, 2);
    MatmulRunner.assertGradientsMatchFiniteDifferences(segmented, s, EVEN_ONLY, random);
  }
}
