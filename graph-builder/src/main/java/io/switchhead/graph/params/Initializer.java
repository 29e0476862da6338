package io.switchhead.graph.params;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;
import org.tensorflow.ndarray.Shape;

/**
 * How a parameter gets its first value: a distribution, drawn in Java ({@link InitialValues}) from a
 * generator seeded by the model seed and the parameter's path, so the same seed gives the same
 * parameters whatever order layers are built in. Not TensorFlow's random ops: the allocator keeps
 * the pool their temporaries took (576 MB of variables initialised by them grew a process by 1.43
 * GB, fed from Java by 650 MB: docs/benchmarks/compare.md, "Start-up memory").
 */
public sealed interface Initializer
    permits Initializer.Normal, Initializer.TruncatedNormal, Initializer.Uniform, Initializer.Constant, Initializer.RowRenormalized {

  /** Where the values go: element {@code index} of the tensor in row-major order. */
  @FunctionalInterface
  interface Values {
    void set(long index, double value);
  }

  /** Sets every element of a tensor of {@code shape} exactly once, drawing from {@code random}. */
  void fill(Shape shape, SplittableRandom random, Values out);

  /** Normal(0, std). */
  static Initializer normal(double std) {
    return new Normal(std);
  }

  /** Normal(0, std) with draws beyond two standard deviations redrawn. */
  static Initializer truncatedNormal(double std) {
    return new TruncatedNormal(std);
  }

  /** Uniform in [-limit, limit), e.g. Xavier's gain * sqrt(6 / (fanIn + fanOut)). */
  static Initializer uniform(double limit) {
    return new Uniform(limit);
  }

  /** All zeros. */
  static Initializer zeros() {
    return constant(0);
  }

  /** All ones. */
  static Initializer ones() {
    return constant(1);
  }

  /** Every element {@code value}. */
  static Initializer constant(double value) {
    return new Constant(value);
  }

  /**
   * The SwitchHead selection-matrix initialisation (SWITCHHEAD.md section 1): draw with {@code
   * inner}, divide each row by its L2 norm, then scale everything by (std of the draw / std of the
   * normalised matrix). Every row ends with the same norm and the global std is kept.
   */
  static Initializer rowRenormalized(Initializer inner) {
    return new RowRenormalized(inner);
  }

  /** Sets each element of {@code shape} in order to the next of {@code draws}. */
  private static void each(Shape shape, Values out, DoubleSupplier draws) {
    for (long i = 0, n = shape.size(); i < n; i++) {
      out.set(i, draws.getAsDouble());
    }
  }

  /** Normal(0, std). */
  record Normal(double std) implements Initializer {
    public Normal {
      checkArgument(std > 0 && Double.isFinite(std), "normal std must be positive and finite, got %s", std);
    }

    @Override
    public void fill(Shape shape, SplittableRandom random, Values out) {
      StandardNormal z = new StandardNormal(random);
      each(shape, out, () -> std * z.next());
    }
  }

  /**
   * std times a standard normal redrawn while beyond +-2: TensorFlow's truncated normal (its
   * statelessTruncatedNormal, which the earlier graph initialiser scaled by std), so the values
   * stay within two {@code std} and their standard deviation is 0.8796 {@code std}.
   */
  record TruncatedNormal(double std) implements Initializer {
    /** Where a draw is redrawn, in standard deviations. */
    static final double BOUND = 2;

    public TruncatedNormal {
      checkArgument(std > 0 && Double.isFinite(std), "truncated normal std must be positive and finite, got %s", std);
    }

    @Override
    public void fill(Shape shape, SplittableRandom random, Values out) {
      StandardNormal z = new StandardNormal(random);
      each(shape, out, () -> {
        double x;
        do {
          x = z.next();
        } while (Math.abs(x) > BOUND);
        return std * x;
      });
    }
  }

  /** Uniform in [-limit, limit). */
  record Uniform(double limit) implements Initializer {
    /**
     * Random bits per draw: as TensorFlow's float uniform, 23. The largest draw is then limit (1 -
     * 2^-22), which stays below limit after rounding to float32, so float32 values are in [-limit,
     * limit) too; a finer double draw could round up to limit.
     */
    private static final int BITS = 23;

    public Uniform {
      checkArgument(limit > 0 && Double.isFinite(limit), "uniform limit must be positive and finite, got %s", limit);
    }

    @Override
    public void fill(Shape shape, SplittableRandom random, Values out) {
      each(shape, out, () -> {
        double unit = (random.nextInt() >>> (Integer.SIZE - BITS)) * 0x1.0p-23; // [0, 1), 23-bit steps
        return limit * (2 * unit - 1);
      });
    }
  }

  /** Every element {@code value}. */
  record Constant(double value) implements Initializer {
    public Constant {
      checkArgument(Double.isFinite(value), "constant initial value must be finite, got %s", value);
    }

    @Override
    public void fill(Shape shape, SplittableRandom random, Values out) {
      each(shape, out, () -> value);
    }
  }

  /** See {@link Initializer#rowRenormalized}. */
  record RowRenormalized(Initializer inner) implements Initializer {
    public RowRenormalized {
      checkNotNull(inner, "row renormalisation needs an inner initializer");
    }

    @Override
    public void fill(Shape shape, SplittableRandom random, Values out) {
      checkArgument(shape.numDimensions() == 2, "row renormalisation needs a matrix, got shape %s", shape);
      // The whole matrix at once: the norms and stds need it. Selection matrices are experts x d.
      checkArgument(shape.size() <= Integer.MAX_VALUE - 8, "row renormalisation of %s: too many elements for one array", shape);
      int rows = (int) shape.get(0);
      int cols = (int) shape.get(1);
      double[] w = new double[rows * cols];
      inner.fill(shape, random, (i, v) -> w[(int) i] = v);
      double drawStd = std(w);
      for (int r = 0; r < rows; r++) {
        double sum = 0;
        for (int c = 0; c < cols; c++) {
          sum += w[r * cols + c] * w[r * cols + c];
        }
        double norm = Math.sqrt(sum);
        checkArgument(norm > 0, "row renormalisation: row %s of the %s draw is all zeros", r, inner);
        for (int c = 0; c < cols; c++) {
          w[r * cols + c] /= norm;
        }
      }
      double scale = drawStd / std(w);
      for (int i = 0; i < w.length; i++) {
        out.set(i, w[i] * scale);
      }
    }

    /** Standard deviation over all elements (population; the estimator cancels in the ratio). */
    private static double std(double[] x) {
      double mean = 0;
      for (double v : x) {
        mean += v;
      }
      mean /= x.length;
      double sum = 0;
      for (double v : x) {
        sum += (v - mean) * (v - mean);
      }
      return Math.sqrt(sum / x.length);
    }
  }
}
