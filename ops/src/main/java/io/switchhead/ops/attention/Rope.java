package io.switchhead.ops.attention;

import static com.google.common.base.Preconditions.checkArgument;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * Rotary position encoding as SwitchHead's RoPE variant uses it (SWITCHHEAD.md section 2): only the
 * first n = floor(dh/2) channels of each head rotate, split in halves (not interleaved):
 * {@code x*cos + rotate_half(x)*sin} with {@code rotate_half(x) = cat(-x2, x1)}, frequencies
 * {@code 10000^(-2i/n)} for i < n/2, each used twice (cat(freqs, freqs)).
 */
public final class Rope {

  private static final double BASE = 10000;

  private Rope() {}

  /** Channels rotated for a head of width {@code headDim}. */
  public static int rotatedChannels(int headDim) {
    return headDim / 2;
  }

  /** Fails unless the rotated channels split into two equal halves. */
  public static void checkHeadDim(int headDim) {
    checkArgument(
        rotatedChannels(headDim) % 2 == 0 && headDim >= 4,
        "RoPE rotates floor(headDim/2) channels in two halves: headDim (%s) must make that even",
        headDim);
  }

  /**
   * The cos and sin of each position's angles, [T, n] each: what {@link #apply(Ops, Operand, Table)}
   * rotates by. A decoding graph makes it once and every layer's queries and keys reuse it.
   */
  public record Table<T extends TFloating>(int headDim, Operand<T> cos, Operand<T> sin) {}

  /**
   * Rotates x by its positions.
   *
   * @param x [B, H, T, dh]
   * @param positionOffset int32 scalar: the absolute position of x's first step (the cache length
   *     when generating with a cache)
   */
  public static <T extends TFloating> Operand<T> apply(Ops tf, Operand<T> x, int headDim, Operand<TInt32> positionOffset) {
    checkHeadDim(headDim);
    Operand<TInt32> t = tf.gather(tf.shape(x), tf.constant(2), tf.constant(0));
    return apply(tf, x, table(tf, t, positionOffset, headDim, x.type()));
  }

  /** The table of T positions from {@code positionOffset} on, in the precision of {@code type}. */
  public static <T extends TFloating> Table<T> table(Ops tf, Operand<TInt32> steps, Operand<TInt32> positionOffset, int headDim, Class<T> type) {
    checkHeadDim(headDim);
    int n = rotatedChannels(headDim);
    // Angles in x's own precision: float64 tests compare to 1e-10.
    Operand<T> positions =
        tf.dtypes.cast(tf.math.add(tf.range(tf.constant(0), steps, tf.constant(1)), positionOffset), type); // [T]
    double[] invFreq = new double[n / 2];
    for (int i = 0; i < invFreq.length; i++) {
      invFreq[i] = Math.pow(BASE, -2.0 * i / n);
    }
    Operand<T> angles =
        tf.math.mul(tf.expandDims(positions, tf.constant(1)), tf.expandDims(tf.dtypes.cast(tf.constant(invFreq), type), tf.constant(0))); // [T, n/2]
    Operand<T> doubled = tf.concat(List.of(angles, angles), tf.constant(1)); // [T, n]
    return new Table<>(headDim, tf.math.cos(doubled), tf.math.sin(doubled));
  }

  /** Rotates x [B, H, T, dh] by a table of its T positions. */
  public static <T extends TFloating> Operand<T> apply(Ops tf, Operand<T> x, Table<T> table) {
    int headDim = table.headDim();
    int n = rotatedChannels(headDim);
    // headDim - n >= 1 pass-through channels always remain (n = floor(dh/2) < dh).
    var parts = tf.splitV(x, tf.constant(new int[] {n / 2, n / 2, headDim - n}), tf.constant(-1), 3L);
    Operand<T> x1 = parts.output().get(0);
    Operand<T> x2 = parts.output().get(1);
    Operand<T> rest = parts.output().get(2);
    Operand<T> rotated = tf.concat(List.of(x1, x2), tf.constant(-1));
    Operand<T> rotatedHalf = tf.concat(List.of(tf.math.neg(x2), x1), tf.constant(-1));
    Operand<T> encoded = tf.math.add(tf.math.mul(rotated, table.cos()), tf.math.mul(rotatedHalf, table.sin()));
    return tf.concat(List.of(encoded, rest), tf.constant(-1));
  }
}
