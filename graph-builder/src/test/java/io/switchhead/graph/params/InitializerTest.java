package io.switchhead.graph.params;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.Tensors;
import io.switchhead.testing.Seeded;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

class InitializerTest {

  @Seeded private long seed;

  private float[] draw(Initializer init, Shape shape) {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      ParamStore store = ParamStore.variables(Ops.create(g), seed);
      Operand<TFloat32> w = store.root().param("w", shape, init);
      s.initialize();
      try (Result r = s.runner().fetch(w).run()) {
        return Tensors.toFloats(r.get(0));
      }
    }
  }

  private static double std(float[] v) {
    double mean = 0;
    for (float x : v) {
      mean += x;
    }
    mean /= v.length;
    double var = 0;
    for (float x : v) {
      var += (x - mean) * (x - mean);
    }
    return Math.sqrt(var / v.length);
  }

  @Test
  void normalHasTheRequestedStd() {
    float[] v = draw(Initializer.normal(0.05), Shape.of(100, 100));
    assertEquals(0.05, std(v), 0.05 * 0.03);
  }

  @Test
  void truncatedNormalStaysWithinTwoStd() {
    float[] v = draw(Initializer.truncatedNormal(0.5), Shape.of(50, 80));
    for (float x : v) {
      assertTrue(Math.abs(x) <= 1.0 + 1e-6, "draw beyond 2 std: " + x);
    }
    // A normal truncated at +-2 sd has std 0.8796 sd.
    assertEquals(0.5 * 0.8796, std(v), 0.5 * 0.03);
  }

  @Test
  void zerosAndOnes() {
    for (float x : draw(Initializer.zeros(), Shape.of(3, 2))) {
      assertEquals(0f, x);
    }
    for (float x : draw(Initializer.ones(), Shape.of(3, 2))) {
      assertEquals(1f, x);
    }
  }

  @Test
  void rowRenormalisationEqualisesRowNormsAndKeepsTheGlobalStd() {
    int rows = 10;
    int cols = 64;
    double std = 1 / Math.sqrt(cols);
    float[] raw = draw(Initializer.normal(std), Shape.of(rows, cols));
    float[] w = draw(Initializer.rowRenormalized(Initializer.normal(std)), Shape.of(rows, cols));
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
  }
}
