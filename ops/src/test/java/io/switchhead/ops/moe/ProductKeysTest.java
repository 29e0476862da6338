package io.switchhead.ops.moe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.check.GradientChecker;
import io.switchhead.ops.check.GradientChecker.Input;
import io.switchhead.testing.Seeded;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat64;

/** Two-stage product-key top-k against a brute-force top-k over all N = n^2 product keys. */
class ProductKeysTest {

  @Seeded private Random random;

  private double[] uniform(int count) {
    return random.doubles(count).map(v -> 2 * v - 1).toArray();
  }

  /** Retrieves for r random queries from two random n-row sub-key tables and checks every row. */
  private void matchesBruteForce(int r, int n, int d2, int k) {
    double[] q1 = uniform(r * d2);
    double[] q2 = uniform(r * d2);
    double[] c1 = uniform(n * d2);
    double[] c2 = uniform(n * d2);
    int[] ids;
    double[] scores;
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      ProductKeys.Retrieval<TFloat64> got = ProductKeys.topK(tf, tf.constant(Shape.of(r, d2), DataBuffers.of(q1)),
          tf.constant(Shape.of(r, d2), DataBuffers.of(q2)), tf.constant(Shape.of(n, d2), DataBuffers.of(c1)),
          tf.constant(Shape.of(n, d2), DataBuffers.of(c2)), k);
      try (Result out = s.runner().fetch(got.ids()).fetch(got.scores()).run()) {
        ids = Tensors.toInts(out.get(0));
        scores = Tensors.toDoubles(out.get(1));
      }
    }
    long n2 = (long) n * n;
    for (int row = 0; row < r; row++) {
      // Every product key's score, then the k best (random doubles: ties have probability 0).
      double[] half1 = new double[n];
      double[] half2 = new double[n];
      for (int a = 0; a < n; a++) {
        half1[a] = dot(q1, row * d2, c1, a * d2, d2);
        half2[a] = dot(q2, row * d2, c2, a * d2, d2);
      }
      int finalRow = row;
      int[] expected = IntStream.range(0, (int) n2).boxed()
          .sorted(Comparator.comparingDouble((Integer id) -> -(half1[id / n] + half2[id % n])))
          .limit(k).mapToInt(Integer::intValue).toArray();
      int[] actual = IntStream.range(0, k).map(j -> ids[finalRow * k + j]).toArray();
      assertArrayEquals(expected, actual, "row " + row + " of n = " + n);
      for (int j = 0; j < k; j++) {
        int id = expected[j];
        assertEquals(half1[id / n] + half2[id % n], scores[row * k + j], 1e-12, "score of row " + row + " slot " + j);
      }
    }
  }

  private static double dot(double[] x, int xAt, double[] y, int yAt, int len) {
    double sum = 0;
    for (int i = 0; i < len; i++) {
      sum += x[xAt + i] * y[yAt + i];
    }
    return sum;
  }

  @Test
  void equalsBruteForceTopKOverAllProductKeys() {
    matchesBruteForce(9, 8, 3, 5);
    matchesBruteForce(4, 5, 2, 1);
    matchesBruteForce(3, 6, 4, 6); // k = n: every sub-key of both halves is a candidate
  }

  @Test
  void aMillionKeysGiveInt32IdsUpTo2To20() {
    matchesBruteForce(2, 1024, 4, 16);
  }

  @Test
  void scoresCarryGradientsToQueriesAndBothSubKeyTables() {
    int r = 4;
    int n = 5;
    int d2 = 3;
    List<Input> inputs = List.of(Input.normal(random, r, d2), Input.normal(random, r, d2), Input.normal(random, n, d2),
        Input.normal(random, n, d2));
    GradientChecker.Report report = new GradientChecker().seed(random.nextLong()).check(
        (tf, in) -> ProductKeys.topK(tf, in.get(0), in.get(1), in.get(2), in.get(3), 3).scores(), inputs);
    assertTrue(report.maxRelativeError() < 1e-6, report.toString());
  }

  @Test
  void kPastTheSubKeysIsRefused() {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      var q = tf.constant(new double[][] {{1, 2}});
      var c = tf.constant(new double[][] {{1, 2}, {3, 4}});
      String message = assertThrows(IllegalArgumentException.class, () -> ProductKeys.topK(tf, q, q, c, c, 3)).getMessage();
      assertTrue(message.contains("k (3) must be in [1, n = 2]"), message);
    }
  }
}
