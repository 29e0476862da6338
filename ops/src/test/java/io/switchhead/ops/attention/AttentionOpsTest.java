package io.switchhead.ops.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.check.GradientChecker;
import io.switchhead.ops.check.GradientChecker.Input;
import io.switchhead.testing.Seeded;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;

/** Attention kernels against plain-Java float64 references on fresh random inputs. */
class AttentionOpsTest {

  @Seeded private Random random;

  private double[] normal(int n) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = random.nextGaussian();
    }
    return v;
  }

  private static double[] run(Function<Ops, Operand<?>> build) {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Operand<?> out = build.apply(GraphOps.create(g));
      try (Result r = s.runner().fetch(out).run()) {
        return r.get(0) instanceof TFloat32 ? toDoubles(Tensors.toFloats(r.get(0))) : Tensors.toDoubles(r.get(0));
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

  private static Operand<TFloat64> constant(Ops tf, double[] values, long... dims) {
    return tf.reshape(tf.constant(values), tf.constant(dims));
  }

  @Test
  void causalAttentionWithMemoryMatchesTheReference() {
    int b = 2, h = 3, t = 4, m = 2, dh = 5, keys = m + t;
    double[] q = normal(b * h * t * dh), k = normal(b * h * keys * dh), v = normal(b * h * keys * dh), pos = normal(b * h * t * keys);
    double[] got = run(tf -> Attention.causal(tf, constant(tf, q, b, h, t, dh), constant(tf, k, b, h, keys, dh),
        constant(tf, v, b, h, keys, dh), constant(tf, pos, b, h, t, keys), m));
    for (int bh = 0; bh < b * h; bh++) {
      for (int i = 0; i < t; i++) {
        double[] scores = new double[m + i + 1];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j <= m + i; j++) {
          double s = pos[(bh * t + i) * keys + j];
          for (int c = 0; c < dh; c++) {
            s += q[(bh * t + i) * dh + c] * k[(bh * keys + j) * dh + c];
          }
          scores[j] = s;
          max = Math.max(max, s);
        }
        double sum = 0;
        for (int j = 0; j < scores.length; j++) {
          scores[j] = Math.exp(scores[j] - max);
          sum += scores[j];
        }
        for (int c = 0; c < dh; c++) {
          double expected = 0;
          for (int j = 0; j < scores.length; j++) {
            expected += scores[j] / sum * v[(bh * keys + j) * dh + c];
          }
          assertEquals(expected, got[(bh * t + i) * dh + c], 1e-12, "bh " + bh + " query " + i);
        }
      }
    }
  }

  @Test
  void causalAttentionGradientsMatchFiniteDifferences() {
    GradientChecker.Report report = new GradientChecker().seed(random.nextLong()).check(
        (tf, in) -> Attention.causal(tf, in.get(0), in.get(1), in.get(2), in.get(3), 1),
        List.of(Input.normal(random, 1, 2, 3, 4), Input.normal(random, 1, 2, 4, 4), Input.normal(random, 1, 2, 4, 3),
            Input.normal(random, 1, 2, 3, 4)));
    assertTrue(report.maxRelativeError() < 1e-6, report.toString());
  }

  @Test
  void ropeMatchesTheReferenceAndPassesTheOtherHalfThrough() {
    int t = 5, dh = 12, offset = 3, n = 6;
    double[] x = normal(t * dh);
    double[] got = run(tf -> Rope.apply(tf, constant(tf, x, 1, 1, t, dh), dh, tf.constant(offset)));
    for (int p = 0; p < t; p++) {
      for (int c = 0; c < dh; c++) {
        double expected;
        if (c >= n) {
          expected = x[p * dh + c];
        } else {
          int i = c % (n / 2);
          double angle = (p + offset) * Math.pow(10000, -2.0 * i / n);
          double rotateHalf = c < n / 2 ? -x[p * dh + c + n / 2] : x[p * dh + c - n / 2];
          expected = x[p * dh + c] * Math.cos(angle) + rotateHalf * Math.sin(angle);
        }
        assertEquals(expected, got[p * dh + c], 1e-12, "position " + p + " channel " + c);
      }
    }
  }

  @Test
  void ropeScoresDependOnlyOnRelativePosition() {
    int t = 6, dh = 16;
    double[] q = normal(t * dh), k = normal(t * dh);
    int shift = 1 + random.nextInt(50);
    Function<Integer, double[]> scores = offset -> run(tf -> {
      Operand<TFloat64> rq = Rope.apply(tf, constant(tf, q, 1, 1, t, dh), dh, tf.constant(offset));
      Operand<TFloat64> rk = Rope.apply(tf, constant(tf, k, 1, 1, t, dh), dh, tf.constant(offset));
      return tf.train.batchMatMul(rq, rk, TFloat64.class, org.tensorflow.op.train.BatchMatMul.adjY(true));
    });
    double[] a = scores.apply(0);
    double[] b = scores.apply(shift);
    for (int i = 0; i < a.length; i++) {
      assertEquals(a[i], b[i], 1e-9 * (1 + Math.abs(a[i])), "score " + i + " moved with absolute position");
    }
    // And the encoding does depend on position: the unrotated scores differ.
    double[] plain = run(tf -> tf.train.batchMatMul(constant(tf, q, 1, 1, t, dh), constant(tf, k, 1, 1, t, dh), TFloat64.class,
        org.tensorflow.op.train.BatchMatMul.adjY(true)));
    assertTrue(Math.abs(plain[1] - a[1]) > 1e-6);
  }

  @Test
  void sinusoidsAreSinOnEvenAndCosOnOddChannels() {
    int d = 8;
    double[] got = run(tf -> RelativePositions.sinusoids(tf, RelativePositions.distances(tf, 4), d));
    for (int l = 0; l < 4; l++) {
      double pos = l - 3;
      for (int c = 0; c < d; c++) {
        double angle = pos * Math.pow(10000, -2.0 * (c / 2) / d);
        assertEquals(c % 2 == 0 ? Math.sin(angle) : Math.cos(angle), got[l * d + c], 1e-6);
      }
    }
  }

  @Test
  void shiftedScoresPairEachQueryWithItsDistanceToEachKey() {
    for (boolean sizedByOps : new boolean[] {false, true}) {
      assertShiftedScoresMatchTheDefinition(1 + random.nextInt(4), random.nextInt(4), sizedByOps);
    }
  }

  /** Either overload: sizes known to the build, or computed by ops when the graph runs (cached decoding's). */
  private void assertShiftedScoresMatchTheDefinition(int t, int m, boolean sizedByOps) {
    int b = 2, h = 2, dh = 4, keys = m + t;
    double[] q = normal(b * h * t * dh), p = normal(h * keys * dh);
    double[] got = run(tf -> sizedByOps
        ? RelativePositions.shiftedScores(tf, constant(tf, q, b, h, t, dh), constant(tf, p, h, keys, dh), tf.constant(t), tf.constant(m))
        : RelativePositions.shiftedScores(tf, constant(tf, q, b, h, t, dh), constant(tf, p, h, keys, dh), t, m));
    String sizes = "T " + t + ", M " + m + (sizedByOps ? ", sized by ops" : ", sized by the build");
    assertEquals(b * h * t * keys, got.length, sizes);
    for (int bi = 0; bi < b; bi++) {
      for (int hi = 0; hi < h; hi++) {
        for (int i = 0; i < t; i++) {
          for (int j = 0; j <= m + i; j++) {
            int distanceIndex = (j - m - i) + keys - 1; // distance j - (m + i), stored from -(keys-1)
            double expected = 0;
            for (int c = 0; c < dh; c++) {
              expected += q[((bi * h + hi) * t + i) * dh + c] * p[(hi * keys + distanceIndex) * dh + c];
            }
            assertEquals(expected, got[((bi * h + hi) * t + i) * keys + j], 1e-12, sizes + ", query " + i + ", key " + j);
          }
        }
      }
    }
  }

  @Test
  void maskedProbabilitiesGradientsSkipTheMaskAndMatchFiniteDifferences() {
    // The probabilities' own gradient (Attention.SOFTMAX_GRADIENT) goes from p straight to the scores, past the select.
    GradientChecker.Report report = new GradientChecker().seed(random.nextLong()).check(
        (tf, in) -> Attention.weights(tf, in.get(0), in.get(1), in.get(2), Attention.visible(tf, 4, 2)),
        List.of(Input.normal(random, 2, 2, 4, 3), Input.normal(random, 2, 2, 6, 3), Input.normal(random, 2, 2, 4, 6)));
    assertTrue(report.maxRelativeError() < 1e-6, report.toString());
  }

  @Test
  void ropeAndShiftGradientsMatchFiniteDifferences() {
    GradientChecker.Report report = new GradientChecker().seed(random.nextLong()).check(
        (tf, in) -> tf.math.add(
            Rope.apply(tf, in.get(0), 8, tf.constant(2)),
            tf.reduceSum(RelativePositions.shiftedScores(tf, in.get(0), in.get(1), 3, 1), tf.constant(3), org.tensorflow.op.core.ReduceSum.keepDims(true))),
        List.of(Input.normal(random, 1, 2, 3, 8), Input.normal(random, 2, 4, 8)));
    assertTrue(report.maxRelativeError() < 1e-6, report.toString());
  }
}
