package io.switchhead.ops.moe;

import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Mode;
import io.switchhead.ops.StatelessRandom;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.Tensors;
import io.switchhead.ops.check.GradientChecker;
import io.switchhead.ops.check.GradientChecker.Input;
import io.switchhead.testing.Seeded;
import java.util.ArrayList;
import java.util.Arrays;
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
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt64;

/** Expert selection against a plain-Java top-k over the same logits. */
class ExpertSelectionTest {

  @Seeded private Random random;

  /** What one selection run returns, as Java arrays. */
  private record Run(int[] ids, double[] gates, double[] logits, boolean[] dropped) {}

  private Run run(int n, int d, SelectionConfig config, Mode mode, long[] seed) {
    double[] x = random.doubles(n * d).map(v -> 2 * v - 1).toArray();
    double[] s = random.doubles((long) config.heads() * config.experts() * d).map(v -> 2 * v - 1).toArray();
    return run(x, s, n, d, config, mode, seed);
  }

  private Run run(double[] x, double[] s, int n, int d, SelectionConfig config, Mode mode, long[] seed) {
    int he = config.heads() * config.experts();
    try (Graph g = new Graph();
        Session session = new Session(g)) {
      Ops tf = GraphOps.create(g);
      Operand<TInt64> seedOp = tf.constant(seed);
      Selection<TFloat32> sel =
          ExpertSelection.select(
              tf, tf.constant(Shape.of(n, d), DataBuffers.of(x)),
              tf.constant(Shape.of(he, d), DataBuffers.of(s)), config, mode, seedOp);
      // The mask expert dropout draws: the same stateless generator, shape and seed.
      Operand<TFloat64> u = StatelessRandom.uniform(tf, tf.constant(new int[] {n, config.heads(), config.experts()}), seedOp);
      try (Result r = session.runner().fetch(sel.ids()).fetch(sel.gates()).fetch(sel.logits()).fetch(u).run()) {
        double[] uniform = Tensors.toDoubles(r.get(3));
        boolean[] dropped = new boolean[uniform.length];
        for (int i = 0; i < dropped.length; i++) {
          dropped[i] = mode == Mode.TRAIN && uniform[i] < config.expertDropout();
        }
        return new Run(Tensors.toInts(r.get(0)), toDoubles(Tensors.toFloats(r.get(1))), toDoubles(Tensors.toFloats(r.get(2))), dropped);
      }
    }
  }

  /** Per (token, head): the k largest scores, ties to the lower index (TensorFlow's top-k rule). */
  private static int[] referenceIds(double[] logits, boolean[] dropped, int n, SelectionConfig c) {
    int e = c.experts();
    int[] ids = new int[n * c.heads() * c.k()];
    for (int t = 0; t < n; t++) {
      for (int h = 0; h < c.heads(); h++) {
        int base = (t * c.heads() + h) * e;
        Integer[] order = new Integer[e];
        for (int i = 0; i < e; i++) {
          order[i] = i;
        }
        Arrays.sort(order, (a, b) -> {
          double sa = dropped[base + a] ? Double.NEGATIVE_INFINITY : logits[base + a];
          double sb = dropped[base + b] ? Double.NEGATIVE_INFINITY : logits[base + b];
          return sa != sb ? Double.compare(sb, sa) : Integer.compare(a, b);
        });
        for (int j = 0; j < c.k(); j++) {
          ids[(t * c.heads() + h) * c.k() + j] = h * e + order[j];
        }
      }
    }
    return ids;
  }

  /** Gates must be sigmoid(logit) at the chosen expert, whatever was masked. */
  private static void assertRawSigmoidGates(Run r, int n, SelectionConfig c) {
    for (int t = 0; t < n; t++) {
      for (int slot = 0; slot < c.heads() * c.k(); slot++) {
        int id = r.ids()[t * c.heads() * c.k() + slot];
        int h = slot / c.k();
        assertTrue(id >= h * c.experts() && id < (h + 1) * c.experts(), "id " + id + " outside head " + h);
        double logit = r.logits()[t * c.heads() * c.experts() + id];
        double expected = 1 / (1 + Math.exp(-logit));
        assertEquals(expected, r.gates()[t * c.heads() * c.k() + slot], 1e-6, "gate of token " + t + " slot " + slot);
      }
    }
  }

  @Test
  void choosesTopKPerHeadWithRawSigmoidGates() {
    SelectionConfig c = SelectionConfig.of(3, 5, 2);
    int n = 11;
    int d = 6;
    double[] x = random.doubles(n * d).map(v -> 2 * v - 1).toArray();
    double[] s = random.doubles(15 * d).map(v -> 2 * v - 1).toArray();
    Run r = run(x, s, n, d, c, Mode.EVAL, new long[] {1, 2});
    // logits = x S^T, viewed [N, H, E]
    for (int t = 0; t < n; t++) {
      for (int col = 0; col < 15; col++) {
        double dot = 0;
        for (int i = 0; i < d; i++) {
          dot += (float) x[t * d + i] * (float) s[col * d + i];
        }
        assertEquals(dot, r.logits()[t * 15 + col], 1e-5, "logit " + t + "," + col);
      }
    }
    assertArrayEquals(referenceIds(r.logits(), r.dropped(), n, c), r.ids());
    assertRawSigmoidGates(r, n, c);
  }

  /** What a selection graph fed through a placeholder returns: the selection and the negative entropy. */
  private record Fed(int[] ids, float[] gates, float[] logits, float[] negativeEntropy) {}

  /**
   * Runs each x [N, d] (row-major) through one graph whose placeholder is [rows, d]: rows = N for a
   * static graph, -1 for one whose N is known only at run time.
   */
  private static List<Fed> feed(List<float[]> xs, double[] s, int d, SelectionConfig c, long rows) {
    try (Graph g = new Graph();
        Session session = new Session(g)) {
      Ops tf = GraphOps.create(g);
      Placeholder<TFloat32> x = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(rows, d)));
      Selection<TFloat32> sel = ExpertSelection.select(tf, x, tf.constant(Shape.of((long) c.heads() * c.experts(), d), DataBuffers.of(s)),
          c, Mode.EVAL, tf.constant(new long[] {0, 0}));
      Operand<TFloat32> entropy = ExpertSelection.negativeEntropy(tf, sel.logits());
      List<Fed> out = new ArrayList<>();
      for (float[] values : xs) {
        try (TFloat32 in = Tensors.floats(Shape.of(values.length / d, d), values);
            Result r = session.runner().feed(x, in).fetch(sel.ids()).fetch(sel.gates()).fetch(sel.logits()).fetch(entropy).run()) {
          out.add(new Fed(Tensors.toInts(r.get(0)), Tensors.toFloats(r.get(1)), Tensors.toFloats(r.get(2)), Tensors.toFloats(r.get(3))));
        }
      }
      return out;
    }
  }

  /** A server's batch: one graph with N unknown, run at two N, selects exactly as the static graph of each N. */
  @Test
  void aRowCountKnownOnlyAtRunTimeSelectsAsTheStaticGraph() {
    SelectionConfig c = SelectionConfig.of(3, 5, 2);
    int d = 6;
    double[] s = random.doubles(15 * d).map(v -> 2 * v - 1).toArray();
    List<float[]> xs = new ArrayList<>();
    for (int n : new int[] {11, 3}) {
      float[] x = new float[n * d];
      for (int i = 0; i < x.length; i++) {
        x[i] = (float) (2 * random.nextDouble() - 1);
      }
      xs.add(x);
    }
    List<Fed> dynamic = feed(xs, s, d, c, -1);
    for (int i = 0; i < xs.size(); i++) {
      int n = xs.get(i).length / d;
      Fed fixed = feed(List.of(xs.get(i)), s, d, c, n).get(0);
      assertArrayEquals(fixed.ids(), dynamic.get(i).ids(), "ids at N = " + n);
      assertArrayEquals(fixed.gates(), dynamic.get(i).gates(), "gates at N = " + n);
      assertArrayEquals(fixed.logits(), dynamic.get(i).logits(), "logits at N = " + n);
      assertArrayEquals(fixed.negativeEntropy(), dynamic.get(i).negativeEntropy(), "negative entropy at N = " + n);
      double[] logits = toDoubles(dynamic.get(i).logits());
      assertArrayEquals(referenceIds(logits, new boolean[logits.length], n, c), dynamic.get(i).ids(), "top-k at N = " + n);
    }
  }

  @Test
  void expertDropoutOnlyChangesWhichExpertsAreChosen() {
    SelectionConfig c = new SelectionConfig(2, 8, 2, 0.5);
    int n = 64;
    Run r = run(n, 5, c, Mode.TRAIN, new long[] {random.nextLong(), random.nextLong()});
    long masked = 0;
    for (boolean b : r.dropped()) {
      masked += b ? 1 : 0;
    }
    assertTrue(masked > 0, "p = 0.5 masked nothing");
    // The choice is the top-k of the masked scores...
    assertArrayEquals(referenceIds(r.logits(), r.dropped(), n, c), r.ids());
    // ...which is not the choice without dropout...
    assertNotEquals(Arrays.toString(referenceIds(r.logits(), new boolean[r.dropped().length], n, c)), Arrays.toString(r.ids()));
    // ...and the gates are still the unmasked sigmoid.
    assertRawSigmoidGates(r, n, c);
  }

  @Test
  void evalIgnoresExpertDropout() {
    SelectionConfig c = new SelectionConfig(2, 6, 3, 0.9);
    int n = 20;
    Run r = run(n, 4, c, Mode.EVAL, new long[] {random.nextLong(), 7});
    assertArrayEquals(referenceIds(r.logits(), new boolean[r.logits().length], n, c), r.ids());
    assertRawSigmoidGates(r, n, c);
  }

  @Test
  void highDropoutAlmostSurelyChangesTheChoices() {
    SelectionConfig high = new SelectionConfig(2, 8, 2, 0.99);
    int n = 32;
    Run r = run(n, 4, high, Mode.TRAIN, new long[] {random.nextLong(), random.nextLong()});
    int[] undropped = referenceIds(r.logits(), new boolean[r.logits().length], n, high);
    int changed = 0;
    for (int t = 0; t < n * 2; t++) {
      int[] a = Arrays.copyOfRange(r.ids(), t * 2, t * 2 + 2);
      int[] b = Arrays.copyOfRange(undropped, t * 2, t * 2 + 2);
      Arrays.sort(a);
      Arrays.sort(b);
      changed += Arrays.equals(a, b) ? 0 : 1;
    }
    // Keeping a (token, head)'s choice needs both its top experts unmasked: probability 1e-4.
    assertTrue(changed > n, "only " + changed + " of " + 2 * n + " choices changed at p = 0.99");
    assertRawSigmoidGates(r, n, high);
  }

  @Test
  void theSeedMakesStepsDifferAndRepeat() {
    SelectionConfig c = new SelectionConfig(2, 8, 2, 0.5);
    double[] x = random.doubles(40 * 4).toArray();
    double[] s = random.doubles(16 * 4).toArray();
    long[] seed = {random.nextLong(), random.nextLong()};
    Run a = run(x, s, 40, 4, c, Mode.TRAIN, seed);
    Run b = run(x, s, 40, 4, c, Mode.TRAIN, seed);
    Run other = run(x, s, 40, 4, c, Mode.TRAIN, new long[] {seed[0] + 1, seed[1]});
    assertArrayEquals(a.ids(), b.ids(), "same seed, same choice");
    assertNotEquals(Arrays.toString(a.ids()), Arrays.toString(other.ids()), "another seed, another choice");
  }

  @Test
  void negativeEntropyMatchesPlainJava() {
    int n = 9;
    int h = 2;
    int e = 5;
    double[] logits = random.doubles(n * h * e).map(v -> 6 * v - 3).toArray();
    double[] expected = new double[h];
    for (int head = 0; head < h; head++) {
      double[] mean = new double[e];
      for (int t = 0; t < n; t++) {
        int base = (t * h + head) * e;
        double z = 0;
        for (int i = 0; i < e; i++) {
          z += Math.exp(logits[base + i]);
        }
        for (int i = 0; i < e; i++) {
          mean[i] += Math.exp(logits[base + i]) / z / n;
        }
      }
      for (double p : mean) {
        expected[head] += p * Math.log(p);
      }
    }
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      Operand<TFloat64> l = tf.constant(Shape.of(n, h, e), DataBuffers.of(logits));
      Operand<TFloat64> uniform = tf.zeros(tf.constant(new int[] {n, h, e}), TFloat64.class);
      try (Result r = s.runner().fetch(ExpertSelection.negativeEntropy(tf, l)).fetch(ExpertSelection.negativeEntropy(tf, uniform)).run()) {
        assertArrayEquals(expected, Tensors.toDoubles(r.get(0)), 1e-12);
        // Equal logits: the mean is uniform, entropy log(E) is the maximum.
        assertArrayEquals(new double[] {-Math.log(e), -Math.log(e)}, Tensors.toDoubles(r.get(1)), 1e-12);
      }
    }
    GradientChecker.Report report =
        new GradientChecker().seed(random.nextLong())
            .check((tf, in) -> ExpertSelection.negativeEntropy(tf, in.get(0)), List.of(Input.normal(random, 6, 2, 4)));
    assertTrue(report.maxRelativeError() < 1e-6, report.toString());
  }

  @Test
  void gatesCarryGradientsToXAndSelection() {
    SelectionConfig c = SelectionConfig.of(2, 4, 2);
    GradientChecker.Report report =
        new GradientChecker().seed(random.nextLong())
            .check(
                (tf, in) ->
                    ExpertSelection.select(tf, in.get(0), in.get(1), c, Mode.EVAL, tf.constant(new long[] {0, 0}), TFloat64.class).gates(),
                List.of(Input.normal(random, 5, 3), Input.normal(random, 8, 3)));
    assertTrue(report.maxRelativeError() < 1e-6, report.toString());
  }

  @Test
  void computesInFloat32UnlessAskedForFloat64() {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      Operand<TFloat64> x64 = tf.constant(new double[][] {{1, 2}, {3, 4}});
      Operand<TBfloat16> s16 = tf.dtypes.cast(tf.constant(new float[][] {{1, 0}, {0, 1}, {1, 1}, {2, 1}}), TBfloat16.class);
      SelectionConfig c = SelectionConfig.of(2, 2, 1);
      Operand<TInt64> seed = tf.constant(new long[] {0, 0});
      assertEquals(TFloat32.class, ExpertSelection.select(tf, x64, s16, c, Mode.EVAL, seed).logits().type());
      assertEquals(TFloat32.class, ExpertSelection.select(tf, s16, s16, SelectionConfig.of(1, 4, 1), Mode.EVAL, seed).gates().type());
      assertEquals(TFloat64.class, ExpertSelection.select(tf, x64, s16, c, Mode.EVAL, seed, TFloat64.class).gates().type());
      var error = assertThrows(IllegalArgumentException.class, () -> ExpertSelection.select(tf, x64, s16, c, Mode.EVAL, seed, TBfloat16.class));
      assertEquals("expert selection: precision must be TFloat32 or TFloat64, got TBfloat16", error.getMessage());
    }
  }

  @Test
  void rejectsBadShapesAndConfigs() {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      Operand<TFloat32> x = tf.constant(new float[][] {{1, 2, 3}});
      Operand<TFloat32> s = tf.zeros(tf.constant(new int[] {6, 2}), TFloat32.class);
      var error =
          assertThrows(
              IllegalArgumentException.class,
              () -> ExpertSelection.select(tf, x, s, SelectionConfig.of(2, 3, 1), Mode.EVAL, tf.constant(new long[] {0, 0})));
      assertEquals("expert selection: selection S must have shape [H*E=6, D=3], got [6, 2]", error.getMessage());
      var seed =
          assertThrows(
              IllegalArgumentException.class,
              () -> ExpertSelection.select(tf, x, tf.zeros(tf.constant(new int[] {6, 3}), TFloat32.class),
                  new SelectionConfig(2, 3, 1, 0.1), Mode.TRAIN, tf.constant(new long[] {0, 0, 0})));
      assertEquals("expert dropout: seed must have shape [2], got [3]", seed.getMessage());
    }
    assertEquals("k (4) must be in [1, experts=3]",
        assertThrows(IllegalArgumentException.class, () -> SelectionConfig.of(2, 3, 4)).getMessage());
    assertEquals("expertDropout must be in [0, 1), got 1.0",
        assertThrows(IllegalArgumentException.class, () -> new SelectionConfig(2, 3, 1, 1.0)).getMessage());
  }

  private static double[] toDoubles(float[] f) {
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      d[i] = f[i];
    }
    return d;
  }
}
