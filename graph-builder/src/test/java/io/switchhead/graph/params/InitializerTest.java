package io.switchhead.graph.params;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.testing.Seeded;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;

class InitializerTest {

  /** Draws per distribution: enough that a 3% tolerance on the std is about 6 standard errors. */
  private static final int N = 20_000;

  @Seeded private long seed;

  /** The float32 values a parameter {@code path} of {@code shape} starts with, made in Java. */
  private float[] draw(String path, Initializer init, Shape shape) {
    try (Tensor t = InitialValues.of(new ParamSpec(path, shape, TFloat32.class, init), seed)) {
      return Tensors.toFloats(t);
    }
  }

  private float[] draw(Initializer init, int n) {
    return draw("w", init, Shape.of(n));
  }

  private static double mean(float[] v) {
    double sum = 0;
    for (float x : v) {
      sum += x;
    }
    return sum / v.length;
  }

  private static double std(float[] v) {
    double mean = mean(v);
    double var = 0;
    for (float x : v) {
      var += (x - mean) * (x - mean);
    }
    return Math.sqrt(var / v.length);
  }

  private static double maxAbs(float[] v) {
    double max = 0;
    for (float x : v) {
      max = Math.max(max, Math.abs(x));
    }
    return max;
  }

  @Test
  void normalHasTheRequestedMeanAndStd() {
    double std = 0.05;
    float[] v = draw(Initializer.normal(std), N);
    assertEquals(0, mean(v), 4 * std / Math.sqrt(N), "mean");
    assertEquals(std, std(v), std * 0.03, "std");
    // Not a truncated or bounded draw: a normal's 20k draws reach past 3 std (all but surely).
    assertTrue(maxAbs(v) > 3 * std, "largest |draw| " + maxAbs(v) + " of a normal with std " + std);
    long withinOne = 0;
    for (float x : v) {
      withinOne += Math.abs(x) <= std ? 1 : 0;
    }
    assertEquals(0.6827, withinOne / (double) N, 0.015, "share within one std");
  }

  @Test
  void truncatedNormalStaysWithinTwoStdAndHasTheTruncatedStd() {
    double std = 0.5;
    float[] v = draw(Initializer.truncatedNormal(std), N);
    for (float x : v) {
      assertTrue(Math.abs(x) <= 2 * std, "draw beyond 2 std: " + x);
    }
    assertTrue(maxAbs(v) > 1.9 * std, "the draws reach the bound: largest |draw| " + maxAbs(v));
    assertEquals(0, mean(v), 4 * std / Math.sqrt(N), "mean");
    // As TensorFlow's: std times a standard normal redrawn beyond +-2, whose std is 0.8796.
    assertEquals(std * 0.8796, std(v), std * 0.8796 * 0.03, "std");
  }

  @Test
  void uniformIsInMinusLimitToLimitWithTheUniformStd() {
    double limit = 0.3;
    float[] v = draw(Initializer.uniform(limit), N);
    for (float x : v) {
      assertTrue(x >= (float) -limit && x < (float) limit, "draw outside [-limit, limit): " + x);
    }
    assertEquals(0, mean(v), 4 * limit / Math.sqrt(3 * N), "mean");
    assertEquals(limit / Math.sqrt(3), std(v), limit / Math.sqrt(3) * 0.03, "std");
    assertTrue(maxAbs(v) > 0.99 * limit, "the draws fill the range: largest |draw| " + maxAbs(v));
  }

  @Test
  void constants() {
    for (float x : draw(Initializer.zeros(), 6)) {
      assertEquals(0f, x);
    }
    for (float x : draw(Initializer.ones(), 6)) {
      assertEquals(1f, x);
    }
    for (float x : draw(Initializer.constant(-0.25), 6)) {
      assertEquals(-0.25f, x);
    }
  }

  @Test
  void rowRenormalisationEqualisesRowNormsAndKeepsTheGlobalStd() {
    int rows = 10;
    int cols = 64;
    double std = 1 / Math.sqrt(cols);
    float[] raw = draw("sel", Initializer.normal(std), Shape.of(rows, cols));
    float[] w = draw("sel", Initializer.rowRenormalized(Initializer.normal(std)), Shape.of(rows, cols));
    double firstNorm = -1;
    for (int r = 0; r < rows; r++) {
      double norm = 0;
      for (int c = 0; c < cols; c++) {
        norm += w[r * cols + c] * w[r * cols + c];
      }
      norm = Math.sqrt(norm);
      if (firstNorm < 0) {
        firstNorm = norm;
      }
      assertEquals(firstNorm, norm, 1e-5 * firstNorm, "row " + r);
    }
    // Same seed and path: the renormalised matrix keeps the std of the raw draw it came from.
    assertEquals(std(raw), std(w), 1e-5);
    // And it is the raw draw's rows rescaled, not a new draw: directions agree.
    for (int r = 0; r < rows; r++) {
      double ratio = w[r * cols] / raw[r * cols];
      for (int c = 1; c < cols; c++) {
        assertEquals(ratio, w[r * cols + c] / (double) raw[r * cols + c], 1e-3 * Math.abs(ratio));
      }
    }
    assertThrows(IllegalArgumentException.class, () -> draw("v", Initializer.rowRenormalized(Initializer.normal(1)), Shape.of(4)));
  }

  @Test
  void theValuesDependOnTheSeedAndPathAlone() {
    Initializer init = Initializer.normal(1);
    Shape shape = Shape.of(8, 16);
    float[] first = draw("layers/0/w", init, shape);
    assertArrayEquals(first, draw("layers/0/w", init, shape), "same seed and path: the same values");
    assertFalse(Arrays.equals(first, draw("layers/1/w", init, shape)), "another path: other values");
    try (Tensor t = InitialValues.of(new ParamSpec("layers/0/w", shape, TFloat32.class, init), seed ^ (1L << 40))) {
      assertFalse(Arrays.equals(first, Tensors.toFloats(t)), "a seed differing in its high bits only: other values");
    }
    try (Tensor t = InitialValues.of(new ParamSpec("layers/0/w", shape, TFloat64.class, init), seed)) {
      double[] wide = Tensors.toDoubles(t);
      for (int i = 0; i < first.length; i++) {
        assertEquals(first[i], (float) wide[i], "float64 holds the same draws, element " + i);
      }
    }
  }

  @Test
  void theStoreFeedsTheJavaValuesAndNothingElseInitialises() {
    Shape shape = Shape.of(5, 7);
    Initializer init = Initializer.truncatedNormal(0.2);
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      ParamStore store = ParamStore.variables(GraphOps.create(g), seed);
      Operand<TFloat32> w = store.root().child("layers").child(2).param("w", shape, init);
      // A session's own initialisation (and its runs' auto-initialisation) has nothing to run.
      s.initialize();
      assertThrows(TensorFlowException.class, () -> s.runner().fetch(w).run().close(), "read before the store's initialize");
      store.initialize(s);
      try (Result r = s.runner().fetch(w).run()) {
        assertArrayEquals(draw("layers/2/w", init, shape), Tensors.toFloats(r.get(0)));
      }
    }
  }
}
