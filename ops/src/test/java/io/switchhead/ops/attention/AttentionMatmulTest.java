package io.switchhead.ops.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.gradients.Gradients;
import io.switchhead.testing.Seeded;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.op.train.BatchMatMul;
import org.tensorflow.types.TFloat64;

/**
 * The V2 attention matmuls and their hand-written gradient against TensorFlow's own batch matmul and
 * its C++ gradient, in float64 on fresh random inputs, through a random weighting of the output so
 * every output element's gradient differs.
 */
class AttentionMatmulTest {

  @Seeded private Random random;

  @Test
  void scoresAndOutputsWithTheirGradientsEqualTensorFlowsOwn() {
    int b = 1 + random.nextInt(3), h = 1 + random.nextInt(3), t = 2 + random.nextInt(6), tk = 2 + random.nextInt(6), d = 1 + random.nextInt(5);
    for (boolean transposeB : new boolean[] {true, false}) {
      long[] aShape = {b, h, t, transposeB ? d : tk};
      long[] bShape = transposeB ? new long[] {b, h, tk, d} : new long[] {b, h, tk, d};
      double[] a = normal(aShape);
      double[] bv = normal(bShape);
      double[] weights = normal(new long[] {b, h, t, transposeB ? tk : d});
      List<double[]> ours = valueAndGradients(a, aShape, bv, bShape, weights, transposeB, true);
      List<double[]> theirs = valueAndGradients(a, aShape, bv, bShape, weights, transposeB, false);
      String what = (transposeB ? "q k^T" : "p v") + " at b " + b + ", h " + h + ", t " + t + ", tk " + tk + ", d " + d;
      for (int i = 0; i < 3; i++) {
        assertArrayEquals(theirs.get(i), ours.get(i), 1e-12, what + ": " + List.of("value", "dA", "dB").get(i));
      }
    }
  }

  @Test
  void buildsBatchMatMulV2ForwardAndBackward() {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      Operand<TFloat64> q = tf.random.randomStandardNormal(tf.constant(new long[] {2, 2, 3, 4}), TFloat64.class);
      Operand<TFloat64> k = tf.random.randomStandardNormal(tf.constant(new long[] {2, 2, 5, 4}), TFloat64.class);
      Gradients.of(tf, tf.reduceSum(AttentionMatmul.of(tf, q, k, true), tf.constant(new int[] {0, 1, 2, 3})), List.of(q, k));
      List<String> types = new ArrayList<>();
      g.operations().forEachRemaining(op -> types.add(((GraphOperation) op).type()));
      assertEquals(0, types.stream().filter(x -> x.equals("BatchMatMulV3")).count(), "no V3 left for oneDNN to skip: " + types);
      assertEquals(3, types.stream().filter(x -> x.equals("BatchMatMulV2")).count(), "the forward and two gradients: " + types);
    }
  }

  private double[] normal(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    double[] v = new double[(int) n];
    for (int i = 0; i < v.length; i++) {
      v[i] = random.nextGaussian();
    }
    return v;
  }

  private static List<double[]> valueAndGradients(double[] a, long[] aShape, double[] b, long[] bShape, double[] weights, boolean transposeB,
      boolean ours) {
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      Operand<TFloat64> x = tf.reshape(tf.constant(a), tf.constant(aShape));
      Operand<TFloat64> y = tf.reshape(tf.constant(b), tf.constant(bShape));
      Operand<TFloat64> c = ours ? AttentionMatmul.of(tf, x, y, transposeB) : tf.train.batchMatMul(x, y, TFloat64.class, BatchMatMul.adjY(transposeB));
      Operand<TFloat64> loss = tf.reduceSum(tf.math.mul(c, tf.reshape(tf.constant(weights), tf.shape(c))), tf.constant(new int[] {0, 1, 2, 3}));
      List<Operand<?>> grads = Gradients.of(tf, loss, List.of(x, y));
      try (Result r = s.runner().fetch(c).fetch(grads.get(0)).fetch(grads.get(1)).run()) {
        return List.of(Tensors.toDoubles(r.get(0)), Tensors.toDoubles(r.get(1)), Tensors.toDoubles(r.get(2)));
      }
    }
  }
}
