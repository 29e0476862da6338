package io.switchhead.ops.moe;

import static io.switchhead.ops.moe.MatmulProblem.DISTINCT;
import static io.switchhead.ops.moe.MatmulProblem.EVEN_ONLY;
import static io.switchhead.ops.moe.MatmulProblem.UNIFORM;
import static io.switchhead.ops.moe.MatmulProblem.allTo;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.testing.Seeded;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;

/** The gathered matmul against the dense reference (forward and gradients), and the run-time switch that picks it. */
class GatheredConditionalMatmulTest {

  @Seeded private Random random;
  private final ConditionalMatmul dense = new DenseConditionalMatmul();
  private final ConditionalMatmul gathered = new GatheredConditionalMatmul();

  @Test
  void equalsTheDenseReferenceForwardAndBackward() {
    for (boolean slots : new boolean[] {false, true}) {
      for (MatmulShapes s : List.of(new MatmulShapes(7, 6, 5, 3, 2), new MatmulShapes(1, 4, 3, 8, 4), new MatmulShapes(5, 4, 3, 1, 2))) {
        for (MatmulProblem.Routing routing : List.of(UNIFORM, EVEN_ONLY, allTo(0), DISTINCT)) {
          if (routing == DISTINCT && s.k() > s.experts()) {
            continue;
          }
          MatmulProblem p = MatmulProblem.random(random, s, routing, slots);
          MatmulRunner.Outputs reference = MatmulRunner.plain(dense, p, TFloat64.class);
          String name = s + (slots ? " slots" : " summed");
          Compare.assertClose(MatmulRunner.plain(gathered, p, TFloat64.class), reference, 1e-10, name + " float64");
          Compare.assertClose(MatmulRunner.plain(gathered, p, TFloat32.class), reference, 1e-5, name + " float32");
        }
      }
    }
  }

  /** The segmented matmul, its outputs doubled: which side of the switch ran shows in the result. */
  private static final class Doubled implements ConditionalMatmul {
    @Override
    public <T extends org.tensorflow.types.family.TFloating> Operand<T> slotOutputs(Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids,
        Operand<T> gates) {
      Operand<T> y = new SegmentedConditionalMatmul().slotOutputs(tf, x, w, ids, gates);
      return tf.math.add(y, y);
    }
  }

  /**
   * One graph, N unknown until it runs: N*k up to the limit takes the gathered side, one more pair
   * the other (here the segmented matmul doubled, to show which ran); both are right.
   */
  @Test
  void theSwitchGivesTheReferenceOnBothSidesOfItsLimit() {
    int dIn = 6;
    int dOut = 5;
    int experts = 4;
    int k = 2;
    int maxPairs = 8;
    FewRowsSwitch both = new FewRowsSwitch(gathered, new Doubled(), 4L * maxPairs * dIn * dOut);
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      Placeholder<TFloat32> x = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, dIn)));
      Placeholder<TFloat32> w = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(experts, dIn, dOut)));
      Placeholder<TInt32> ids = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, k)));
      Placeholder<TFloat32> gates = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, k)));
      Operand<TFloat32> got = both.slotOutputs(tf, x, w, ids, gates);
      Operand<TFloat32> summed = both.apply(tf, x, w, ids, gates);
      for (int rows : new int[] {1, maxPairs / k, maxPairs / k + 1, 9}) {
        float[] xv = floats(rows * dIn);
        float[] wv = floats(experts * dIn * dOut);
        float[] gv = floats(rows * k);
        int[] iv = random.ints((long) rows * k, 0, experts).toArray();
        try (TFloat32 xt = Tensors.floats(Shape.of(rows, dIn), xv);
            TFloat32 wt = Tensors.floats(Shape.of(experts, dIn, dOut), wv);
            TInt32 it = Tensors.ints(Shape.of(rows, k), iv);
            TFloat32 gt = Tensors.floats(Shape.of(rows, k), gv);
            Result r = s.runner().feed(x, xt).feed(w, wt).feed(ids, it).feed(gates, gt).fetch(got).fetch(summed).run()) {
          float[] a = Tensors.toFloats(r.get(0));
          float[] b = loopReference(xv, wv, iv, gv, rows, dIn, dOut, k);
          float[] sum = Tensors.toFloats(r.get(1));
          float side = rows * k <= maxPairs ? 1 : 2;
          assertEquals(b.length, a.length);
          for (int i = 0; i < b.length; i++) {
            assertEquals(side * b[i], a[i], 1e-5, rows + " rows, slot value " + i);
          }
          for (int n = 0; n < rows; n++) {
            for (int o = 0; o < dOut; o++) {
              double total = 0;
              for (int j = 0; j < k; j++) {
                total += b[(n * k + j) * dOut + o];
              }
              assertEquals(side * total, sum[n * dOut + o], 1e-5, rows + " rows, summed row " + n);
            }
          }
        }
      }
    }
  }

  /** TensorFlow Java has no gradient for Merge: were that to change, the switch could serve training graphs too. */
  @Test
  void theSwitchHasNoGradientSoOnlyInferenceUsesIt() {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      Operand<TFloat32> x = tf.constant(new float[][] {{1, 2}});
      Operand<TFloat32> w = tf.constant(new float[][][] {{{1}, {2}}, {{3}, {4}}});
      Operand<TFloat32> y = new FewRowsSwitch(gathered, new SegmentedConditionalMatmul(), 1L << 20)
          .apply(tf, x, w, tf.constant(new int[][] {{1}}), tf.constant(new float[][] {{0.5f}}));
      Exception e = org.junit.jupiter.api.Assertions.assertThrows(Exception.class,
          () -> g.addGradients(tf.reduceSum(y, tf.constant(new int[] {0, 1})).asOutput(), new org.tensorflow.Output<?>[] {x.asOutput()}));
      org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("No gradient defined for op: Merge"), e.getMessage());
    }
  }

  /** gates[n, j] * x[n] W[ids[n, j]] by loops, in double: [rows, k, dOut]. */
  private static float[] loopReference(float[] x, float[] w, int[] ids, float[] gates, int rows, int dIn, int dOut, int k) {
    float[] out = new float[rows * k * dOut];
    for (int n = 0; n < rows; n++) {
      for (int j = 0; j < k; j++) {
        int e = ids[n * k + j];
        for (int o = 0; o < dOut; o++) {
          double acc = 0;
          for (int i = 0; i < dIn; i++) {
            acc += (double) x[n * dIn + i] * w[(e * dIn + i) * dOut + o];
          }
          out[(n * k + j) * dOut + o] = (float) (gates[n * k + j] * acc);
        }
      }
    }
    return out;
  }

  private float[] floats(int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) random.nextGaussian();
    }
    return v;
  }
}
