package io.switchhead.ops.moe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.attention.Attention;
import io.switchhead.testing.Seeded;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;

/** Dynamic k (our design) against float64 loops: importance, K per token, slot masks. */
class DynamicKTest {

  @Seeded private Random random;

  /** Runs the fetches of one graph and returns them as doubles. */
  private interface Build {
    List<Operand<?>> apply(Ops tf);
  }

  private static double[][] run(Build build) {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      List<Operand<?>> fetches = build.apply(GraphOps.create(g));
      Session.Runner runner = s.runner();
      fetches.forEach(runner::fetch);
      try (Result r = runner.run()) {
        double[][] out = new double[fetches.size()][];
        for (int i = 0; i < fetches.size(); i++) {
          out[i] = r.get(i) instanceof TInt32 ints
              ? java.util.Arrays.stream(Tensors.toInts(ints)).asDoubleStream().toArray()
              : r.get(i) instanceof TFloat32 floats ? toDoubles(Tensors.toFloats(floats)) : Tensors.toDoubles(r.get(i));
        }
        return out;
      }
    }
  }

  private static double[] toDoubles(float[] f) {
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      d[i] = f[i];
    }
    return d;
  }

  /** Causal softmax weights [B, H, T, M+T] of random scores, in a float64 loop. */
  private double[] causalWeights(int b, int h, int t, int m) {
    int tk = m + t;
    double[] w = new double[b * h * t * tk];
    for (int row = 0; row < b * h * t; row++) {
      int i = row % t;
      double[] e = new double[tk];
      double sum = 0;
      for (int j = 0; j <= m + i; j++) {
        e[j] = Math.exp(3 * random.nextGaussian());
        sum += e[j];
      }
      for (int j = 0; j < tk; j++) {
        w[row * tk + j] = e[j] / sum;
      }
    }
    return w;
  }

  /** The spec's importance in a loop: mean over heads of the attention received, per query that can see the key, over the row max. */
  private static double[] importanceLoop(double[] w, int b, int h, int t, int m) {
    int tk = m + t;
    double[] s = new double[b * tk];
    for (int bi = 0; bi < b; bi++) {
      double max = 0;
      for (int j = 0; j < tk; j++) {
        double received = 0;
        for (int hi = 0; hi < h; hi++) {
          for (int i = 0; i < t; i++) {
            received += w[((bi * h + hi) * t + i) * tk + j];
          }
        }
        int seenBy = 0;
        for (int i = 0; i < t; i++) {
          seenBy += j <= m + i ? 1 : 0;
        }
        s[bi * tk + j] = received / h / seenBy;
        max = Math.max(max, s[bi * tk + j]);
      }
      for (int j = 0; j < tk; j++) {
        s[bi * tk + j] /= max;
      }
    }
    return s;
  }

  @Test
  void importanceAndKMatchALoopOnRandomAttention() {
    int b = 2;
    int h = 3;
    int t = 5;
    int m = 2;
    int kMax = 3;
    double kAvg = 1 + 2 * random.nextDouble();
    double[] w = causalWeights(b, h, t, m);
    double[][] out = run(tf -> {
      Operand<TFloat64> weights = tf.constant(Shape.of(b, h, t, m + t), DataBuffers.of(w));
      Operand<TFloat64> s = DynamicK.importance(tf, weights, Attention.visible(tf, t, m));
      return List.of(s, DynamicK.perToken(tf, s, DynamicK.Variant.CEIL, 0, kMax),
          DynamicK.perToken(tf, s, DynamicK.Variant.BUDGET, kAvg, kMax));
    });
    double[] expected = importanceLoop(w, b, h, t, m);
    assertArrayEquals(expected, out[0], 1e-12);
    int tk = m + t;
    for (int bi = 0; bi < b; bi++) {
      double sum = 0;
      for (int j = 0; j < tk; j++) {
        sum += expected[bi * tk + j];
      }
      for (int j = 0; j < tk; j++) {
        double sj = expected[bi * tk + j];
        double ceil = Math.min(kMax, Math.max(1, Math.ceil(sj * kMax)));
        double budget = Math.min(kMax, Math.max(1, Math.rint(kAvg * tk * sj / sum)));
        assertEquals(ceil, out[1][bi * tk + j], "ceil K of token " + j);
        assertEquals(budget, out[2][bi * tk + j], "budget K of token " + j);
        assertTrue(out[1][bi * tk + j] >= 1 && out[1][bi * tk + j] <= kMax && out[2][bi * tk + j] >= 1 && out[2][bi * tk + j] <= kMax);
      }
    }
  }

  @Test
  void aTokenSeenByFewerQueriesIsNotPenalised() {
    // One head, three causal queries: token 2 is seen by query 2 only, token 0 by all three.
    double[] w = {
        1, 0, 0,
        0.5, 0.5, 0,
        0.25, 0.25, 0.5};
    double[][] out = run(tf -> {
      Operand<TFloat64> s = DynamicK.importance(tf, tf.constant(Shape.of(1, 1, 3, 3), DataBuffers.of(w)), Attention.visible(tf, 3, 0));
      return List.of(s, DynamicK.perToken(tf, s, DynamicK.Variant.CEIL, 0, 3));
    });
    // Received per query that sees it: 1.75 / 3, 0.75 / 2, 0.5 / 1; over their max 1.75 / 3.
    double top = 1.75 / 3;
    assertArrayEquals(new double[] {1, 0.375 / top, 0.5 / top}, out[0], 1e-12);
    // Summed without the count, token 2 (0.5) would rank below token 1 (0.75); per query it ranks above.
    assertTrue(out[0][2] > out[0][1]);
    assertArrayEquals(new double[] {3, 2, 3}, out[1]);
  }

  @Test
  void equalImportancesGiveFixedTopKExactly() {
    int n = 7;
    int heads = 2;
    int k = 3;
    double[] gates = random.doubles(n * heads * k).toArray();
    double[][] out = run(tf -> {
      Operand<TFloat64> equal = tf.constant(Shape.of(1, n), DataBuffers.of(filled(n, 0.3 + random.nextDouble())));
      Operand<TFloat64> s = tf.math.div(equal, tf.reduceMax(equal, tf.constant(1), org.tensorflow.op.core.ReduceMax.keepDims(true)));
      Operand<TInt32> ceil = tf.reshape(DynamicK.perToken(tf, s, DynamicK.Variant.CEIL, 0, k), tf.constant(new int[] {-1}));
      Operand<TInt32> budget = tf.reshape(DynamicK.perToken(tf, s, DynamicK.Variant.BUDGET, k, k), tf.constant(new int[] {-1}));
      Operand<TFloat64> g = tf.constant(Shape.of(n, heads * k), DataBuffers.of(gates));
      return List.of(ceil, budget, DynamicK.maskSlots(tf, g, ceil, heads, k), DynamicK.maskSlots(tf, g, budget, heads, k));
    });
    assertArrayEquals(filled(n, k), out[0]);
    assertArrayEquals(filled(n, k), out[1]);
    assertArrayEquals(gates, out[2], 0.0);
    assertArrayEquals(gates, out[3], 0.0);
  }

  @Test
  void slotsPastKGetGateZeroAndMeanKCountsTheKept() {
    int n = 6;
    int heads = 3;
    int k = 4;
    int[] kPerToken = random.ints(n, 1, k + 1).toArray();
    double[] gates = random.doubles(n * heads * k).toArray();
    double[][] out = run(tf -> {
      Operand<TInt32> kt = tf.constant(kPerToken);
      return List.of(DynamicK.maskSlots(tf, tf.constant(Shape.of(n, heads * k), DataBuffers.of(gates)), kt, heads, k), DynamicK.meanK(tf, kt));
    });
    double[] expected = gates.clone();
    double sum = 0;
    for (int i = 0; i < n; i++) {
      sum += kPerToken[i];
      for (int slot = 0; slot < heads * k; slot++) {
        if (slot % k >= kPerToken[i]) {
          expected[i * heads * k + slot] = 0;
        }
      }
    }
    assertArrayEquals(expected, out[0], 0.0);
    assertEquals(sum / n, out[1][0], 1e-6);
  }

  @Test
  void theActiveSlotsMatmulIsTheMaskedDenseOneInOutputAndGradients() {
    int n = 7;
    int k = 3;
    int m = 4;
    int dIn = 5;
    int dOut = 2;
    double[] x = random.doubles(n * dIn, -1, 1).toArray();
    double[] w = random.doubles(m * dIn * dOut, -1, 1).toArray();
    double[] gates = random.doubles(n * k).toArray();
    double[] projection = random.doubles(n * k * dOut, -1, 1).toArray();
    int[] ids = random.ints(n * k, 0, m).toArray();
    int[] kPerToken = random.ints(n, 1, k + 1).toArray();
    double[][][] results = new double[2][][];
    for (int variant = 0; variant < 2; variant++) {
      boolean skipping = variant == 0;
      results[variant] = run(tf -> {
        Operand<TFloat64> xs = tf.constant(Shape.of(n, dIn), DataBuffers.of(x));
        Operand<TFloat64> ws = tf.constant(Shape.of(m, dIn, dOut), DataBuffers.of(w));
        Operand<TInt32> kt = tf.constant(kPerToken);
        // Gradients with respect to the gates before the mask, as a layer's selection has them.
        Operand<TFloat64> rawGates = tf.constant(Shape.of(n, k), DataBuffers.of(gates));
        Operand<TFloat64> g = DynamicK.maskSlots(tf, rawGates, kt, 1, k);
        Operand<TInt32> is = tf.constant(Shape.of(n, k), DataBuffers.of(ids));
        // The skipping one with N known only at run time, as a server's batch would be.
        Operand<TFloat64> xIn = skipping ? tf.placeholderWithDefault(xs, Shape.of(-1, dIn)) : xs;
        ConditionalMatmul dispatch = skipping
            ? new ActiveSlotsMatmul(new SegmentedConditionalMatmul(), DynamicK.activeSlots(tf, kt, 1, k))
            : new DenseConditionalMatmul();
        Operand<TFloat64> y = dispatch.slotOutputs(tf, xIn, ws, is, g);
        Operand<TFloat64> scalar = tf.reduceSum(tf.math.mul(tf.reshape(y, tf.constant(new int[] {-1})), tf.constant(projection)), tf.constant(0));
        List<Operand<?>> grads = io.switchhead.ops.gradients.Gradients.of(tf, scalar, List.of(xIn, ws, rawGates));
        return List.of(y, grads.get(0), grads.get(1), grads.get(2));
      });
    }
    String[] what = {"output", "d/dx", "d/dw", "d/dgates"};
    for (int i = 0; i < 4; i++) {
      assertArrayEquals(results[1][i], results[0][i], 1e-12, what[i]);
    }
    for (int row = 0; row < n; row++) {
      for (int slot = kPerToken[row]; slot < k; slot++) {
        for (int j = 0; j < dOut; j++) {
          assertEquals(0.0, results[0][0][(row * k + slot) * dOut + j], "an unused slot's output");
        }
      }
    }
  }

  private static double[] filled(int n, double value) {
    double[] a = new double[n];
    java.util.Arrays.fill(a, value);
    return a;
  }
}
