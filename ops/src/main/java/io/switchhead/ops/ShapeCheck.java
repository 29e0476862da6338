package io.switchhead.ops;

import java.util.Arrays;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;

/**
 * Build-time shape checks with messages that name the layer, the input and the expected shape, so a
 * wrong wiring fails while the graph is built, not deep inside a TensorFlow run.
 */
public final class ShapeCheck {

  /** In an expected shape: any size is fine for this dimension. */
  public static final long ANY = -1;

  private ShapeCheck() {}

  /**
   * Requires {@code x} to have rank {@code expected.length} and, for each dimension not {@link #ANY},
   * that size. A dimension unknown at build time is accepted (it is checked when the graph runs).
   *
   * @param where the layer, e.g. {@code layers/3/attention}
   * @param what the input, e.g. {@code "x_q [B, T, D]"}
   * @throws IllegalArgumentException naming where, what, the expected and the actual shape
   */
  public static void require(String where, String what, Operand<?> x, long... expected) {
    Shape actual = x.shape();
    if (actual.isUnknown()) {
      return;
    }
    boolean ok = actual.numDimensions() == expected.length;
    for (int i = 0; ok && i < expected.length; i++) {
      long size = actual.get(i);
      ok = expected[i] == ANY || size == Shape.UNKNOWN_SIZE || size == expected[i];
    }
    if (!ok) {
      throw new IllegalArgumentException(
          String.format("%s: %s must have shape %s, got %s", where, what, describe(expected), actual));
    }
  }

  private static String describe(long[] expected) {
    String[] parts = new String[expected.length];
    for (int i = 0; i < expected.length; i++) {
      parts[i] = expected[i] == ANY ? "?" : Long.toString(expected[i]);
    }
    return Arrays.toString(parts);
  }
}
