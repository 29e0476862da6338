package io.switchhead.ops.moe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Norm-relative comparison: max |a - b| / max |b|, so near-zero elements do not dominate. */
final class Compare {

  private Compare() {}

  static double relativeError(double[] actual, double[] expected) {
    assertEquals(expected.length, actual.length, "lengths differ");
    double maxDiff = 0;
    double maxAbs = 0;
    for (int i = 0; i < expected.length; i++) {
      double d = Math.abs(actual[i] - expected[i]);
      // NaN must fail, and Math.max(NaN, ..) is NaN, which no comparison accepts.
      maxDiff = Double.isNaN(d) ? Double.NaN : Math.max(maxDiff, d);
      maxAbs = Math.max(maxAbs, Math.abs(expected[i]));
    }
    return maxDiff / Math.max(maxAbs, Double.MIN_NORMAL);
  }

  static void assertClose(MatmulRunner.Outputs actual, MatmulRunner.Outputs expected, double tolerance, String what) {
    double[][] a = actual.all();
    double[][] e = expected.all();
    for (int i = 0; i < a.length; i++) {
      double err = relativeError(a[i], e[i]);
      assertTrue(err <= tolerance, what + ": " + MatmulRunner.NAMES.get(i) + " relative error " + err + " > " + tolerance);
    }
  }
}
