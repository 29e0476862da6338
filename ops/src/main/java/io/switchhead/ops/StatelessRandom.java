package io.switchhead.ops;

import static com.google.common.base.Preconditions.checkArgument;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TUint16;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TNumber;

/**
 * Seeded uniform random numbers that are the same bits in the plain graph and under XLA.
 *
 * <p>TensorFlow's own stateless ops do not serve: in TF 2.18 the XLA CPU kernels of the V1 ops
 * (StatelessRandomUniform/Normal) accept only int32 seeds, and the V2 ops compile but XLA's Philox
 * gives other numbers than the CPU kernel's, so an XLA-compiled step would drop other units than the
 * plain one. This is splitmix64 over (seed, element index) in int64 arithmetic, which every backend
 * computes bit for bit alike.
 */
public final class StatelessRandom {

  private static final long GOLDEN = 0x9E3779B97F4A7C15L;
  private static final long MIX1 = 0xBF58476D1CE4E5B9L;
  private static final long MIX2 = 0x94D049BB133111EBL;
  /** The values of a 16-bit word. */
  private static final int WORDS = 1 << 16;

  private StatelessRandom() {}

  /** Uniform [0, 1) in float64 of {@code shape}, a pure function of {@code seed} (int64 [2]). */
  public static Operand<TFloat64> uniform(Ops tf, Operand<? extends TNumber> shape, Operand<TInt64> seed) {
    Operand<TInt64> dims = tf.dtypes.cast(shape, TInt64.class);
    Operand<TInt64> bits = bits64(tf, tf.reduceProd(dims, tf.constant(0)), seed);
    // The top 53 bits, scaled to [0, 1): exact in float64.
    Operand<TFloat64> unit = tf.math.mul(tf.dtypes.cast(shiftRightLogical(tf, bits, 11), TFloat64.class), tf.constant(0x1.0p-53));
    return tf.reshape(unit, dims);
  }

  /**
   * The probability that {@link #keep} keeps an element at {@code rate}: 1 - rate rounded to a
   * multiple of 2^-16, the resolution of its 16-bit draws. Dropout scales by its inverse, so that the
   * expected output is the input exactly.
   */
  public static double keepProbability(double rate) {
    return (WORDS - droppedWords(rate)) / (double) WORDS;
  }

  /**
   * True with probability {@link #keepProbability}{@code (rate)} at each element of {@code shape},
   * a pure function of {@code seed} (int64 [2]): a dropout mask.
   *
   * <p>Each element takes 16 of the 64 bits, so one splitmix64 serves four elements: the int64 ops
   * that dominate a mask's cost run over a quarter of the elements, and the mask is a comparison of
   * uint16 words, with no float conversion.
   */
  public static Operand<TBool> keep(Ops tf, Operand<? extends TNumber> shape, double rate, Operand<TInt64> seed) {
    int dropped = droppedWords(rate);
    Operand<TInt64> dims = tf.dtypes.cast(shape, TInt64.class);
    Operand<TInt64> count = tf.reduceProd(dims, tf.constant(0));
    Operand<TInt64> draws = tf.math.floorDiv(tf.math.add(count, tf.constant(3L)), tf.constant(4L));
    Operand<TUint16> words = tf.reshape(tf.bitcast(bits64(tf, draws, seed), TUint16.class), tf.constant(new long[] {-1}));
    // Drops the last draw's unused words; Slice passes its input through when it takes all.
    Operand<TUint16> used = tf.slice(words, tf.constant(new long[] {0}), tf.reshape(count, tf.constant(new long[] {1})));
    return tf.reshape(tf.math.greaterEqual(used, tf.dtypes.cast(tf.constant(dropped), TUint16.class)), dims);
  }

  /** Of the 2^16 values a word takes, how many drop: at least one is kept, however near 1 the rate. */
  private static int droppedWords(double rate) {
    checkArgument(rate >= 0 && rate < 1, "keep mask: rate (%s) must be in [0, 1)", rate);
    return (int) Math.min(Math.round(rate * WORDS), WORDS - 1);
  }

  /** splitmix64 of element indices 0..count-1 under a key drawn from the seed: int64 [count]. */
  private static Operand<TInt64> bits64(Ops tf, Operand<TInt64> count, Operand<TInt64> seed) {
    Operand<TInt64> index = tf.range(tf.constant(0L), count, tf.constant(1L));
    Operand<TInt64> s0 = tf.gather(seed, tf.constant(0), tf.constant(0));
    Operand<TInt64> s1 = tf.gather(seed, tf.constant(1), tf.constant(0));
    Operand<TInt64> key = splitmix(tf, tf.math.add(s0, splitmix(tf, s1)));
    return splitmix(tf, tf.math.add(key, tf.math.mul(index, tf.constant(GOLDEN))));
  }

  private static Operand<TInt64> splitmix(Ops tf, Operand<TInt64> x) {
    Operand<TInt64> z = tf.math.add(x, tf.constant(GOLDEN));
    z = tf.math.mul(tf.bitwise.bitwiseXor(z, shiftRightLogical(tf, z, 30)), tf.constant(MIX1));
    z = tf.math.mul(tf.bitwise.bitwiseXor(z, shiftRightLogical(tf, z, 27)), tf.constant(MIX2));
    return tf.bitwise.bitwiseXor(z, shiftRightLogical(tf, z, 31));
  }

  /** x >>> n on int64: TensorFlow's right shift of a signed type is arithmetic, so mask the sign fill. */
  private static Operand<TInt64> shiftRightLogical(Ops tf, Operand<TInt64> x, int n) {
    return tf.bitwise.bitwiseAnd(tf.bitwise.rightShift(x, tf.constant((long) n)), tf.constant((1L << (64 - n)) - 1));
  }
}
