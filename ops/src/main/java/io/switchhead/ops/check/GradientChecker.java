package io.switchhead.ops.check;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.gradients.Gradients;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat64;

/**
 * Checks symbolic gradients against central finite differences, in float64.
 *
 * <p>The function's output (any shape) is reduced to a scalar by a dot product with fixed random
 * weights, so every output element contributes with a different weight and a mixed-up axis shows.
 * The analytic gradient comes from {@link Gradients#of} (TensorFlow's C++ gradients plus this
 * project's Java ones); the numeric one is a fourth-order central difference (+-h, +-2h) per checked
 * input element.
 *
 * <p>Error per element: |analytic - numeric| / max(|analytic|, |numeric|, floor). The floor keeps
 * elements whose true gradient is zero from dividing rounding noise by nothing.
 *
 * <p>Kinks: a ReLU whose input lies within 2h of zero, or a top-k whose scores tie within 2h, puts a
 * corner inside the stencil, and the central difference averages the slopes of both sides: no
 * analytic gradient can match it. So each element is also compared with the two second-order
 * one-sided differences ({@code x, x+h, x+2h} and {@code x, x-h, x-2h}), of which at least one lies on
 * x's side of a corner. Where the function is smooth the two agree to O(h^2); where they disagree by
 * more than {@link #CORNER_SLOPE_MISMATCH} the element is at a corner, and the analytic gradient is
 * compared with the nearer of the two instead of the central difference. A wrong gradient still
 * fails: it matches neither side. The report says how many elements sat at a corner.
 */
public final class GradientChecker {

  /** A function of float64 inputs, built into a graph. */
  @FunctionalInterface
  public interface GraphFunction {
    Operand<TFloat64> apply(Ops tf, List<Operand<TFloat64>> inputs);
  }

  /** One float64 input: its shape and row-major values. */
  public record Input(Shape shape, double[] values) {
    public Input {
      checkArgument(
          shape.size() == values.length,
          "input shape %s holds %s values, got %s",
          shape,
          shape.size(),
          values.length);
      values = values.clone();
    }

    /** Standard normal values, from the given generator. */
    public static Input normal(Random random, long... dims) {
      Shape shape = Shape.of(dims);
      double[] values = new double[Math.toIntExact(shape.size())];
      for (int i = 0; i < values.length; i++) {
        values[i] = random.nextGaussian();
      }
      return new Input(shape, values);
    }

    @Override
    public double[] values() {
      return values.clone();
    }
  }

  /** Where the analytic and numeric gradients disagree most. */
  public record Report(
      double maxRelativeError, int worstInput, int worstElement, double analytic, double numeric, int elementsChecked, int corners) {
    @Override
    public String toString() {
      return String.format(
          "max relative error %.3e at input %d element %d (analytic %.10e, numeric %.10e), %d elements checked, %d of them"
              + " at a corner (compared with a one-sided difference)",
          maxRelativeError, worstInput, worstElement, analytic, numeric, elementsChecked, corners);
    }
  }

  /** Relative difference of the two one-sided slopes above which an element is at a corner. */
  static final double CORNER_SLOPE_MISMATCH = 1e-4;

  private double step = 1e-5;
  private double floor = 1e-3;
  private int maxElementsPerInput = 256;
  private long seed = 12345;

  /** Finite-difference step (default 1e-5; the stencil is fourth order, so rounding dominates). */
  public GradientChecker step(double h) {
    checkArgument(h > 0, "step must be positive, got %s", h);
    this.step = h;
    return this;
  }

  /** Denominator floor of the relative error (default 1e-3). */
  public GradientChecker floor(double floor) {
    checkArgument(floor > 0, "floor must be positive, got %s", floor);
    this.floor = floor;
    return this;
  }

  /** Inputs with more elements are checked at this many random positions (default 256). */
  public GradientChecker maxElementsPerInput(int n) {
    checkArgument(n > 0, "maxElementsPerInput must be positive, got %s", n);
    this.maxElementsPerInput = n;
    return this;
  }

  /** Seed of the output weights and of the sampled positions. */
  public GradientChecker seed(long seed) {
    this.seed = seed;
    return this;
  }

  /** Compares analytic and numeric gradients of {@code f} at {@code inputs}. */
  public Report check(GraphFunction f, List<Input> inputs) {
    checkArgument(!inputs.isEmpty(), "a gradient check needs at least one input");
    Random random = new Random(seed);
    try (Graph graph = new Graph();
        Session session = new Session(graph)) {
      Ops tf = GraphOps.create(graph);
      List<Placeholder<TFloat64>> placeholders = new ArrayList<>();
      for (Input input : inputs) {
        placeholders.add(tf.placeholder(TFloat64.class, Placeholder.shape(input.shape())));
      }
      Operand<TFloat64> y = f.apply(tf, ImmutableList.copyOf(placeholders));
      Placeholder<TFloat64> weights = tf.placeholder(TFloat64.class);
      Operand<TFloat64> scalar = tf.reduceSum(tf.math.mul(y, weights), allAxes(tf, y));
      List<Operand<?>> grads = Gradients.of(tf, scalar, placeholders);

      Evaluator at = new Evaluator(session, placeholders, inputs, weights);
      double[] w = new double[Math.toIntExact(at.outputShape(y).size())];
      for (int i = 0; i < w.length; i++) {
        w[i] = random.nextGaussian();
      }
      at.weights = new Input(at.outputShape(y), w);
      double[][] analytic = at.fetch(grads);
      return compare(at, scalar, analytic, random);
    }
  }

  private Report compare(Evaluator at, Operand<TFloat64> scalar, double[][] analytic, Random random) {
    double center = at.fetch(List.of(scalar))[0][0];
    double worst = -1;
    int worstInput = -1;
    int worstElement = -1;
    double worstA = 0;
    double worstN = 0;
    int checked = 0;
    int corners = 0;
    for (int i = 0; i < at.point.length; i++) {
      for (int e : positions(at.point[i].length, random)) {
        double original = at.point[i][e];
        double h = step * Math.max(1.0, Math.abs(original));
        double plus = valueAt(at, scalar, i, e, original + h);
        double minus = valueAt(at, scalar, i, e, original - h);
        double plus2 = valueAt(at, scalar, i, e, original + 2 * h);
        double minus2 = valueAt(at, scalar, i, e, original - 2 * h);
        at.point[i][e] = original;
        double a = analytic[i][e];
        // Fourth-order central difference: error O(h^4) plus rounding O(eps * f / h).
        double numeric = (8 * (plus - minus) - (plus2 - minus2)) / (12 * h);
        double err = relativeError(a, numeric);
        // Second-order one-sided differences: at least one of them lies on x's side of a corner.
        double forward = (-3 * center + 4 * plus - plus2) / (2 * h);
        double backward = (3 * center - 4 * minus + minus2) / (2 * h);
        // A corner shows as one-sided slopes that disagree; where f is smooth they agree to O(h^2).
        if (relativeError(forward, backward) > CORNER_SLOPE_MISMATCH) {
          corners++;
          boolean forwardSide = relativeError(a, forward) <= relativeError(a, backward);
          numeric = forwardSide ? forward : backward;
          err = relativeError(a, numeric);
        }
        checked++;
        if (err > worst) {
          worst = err;
          worstInput = i;
          worstElement = e;
          worstA = a;
          worstN = numeric;
        }
      }
    }
    return new Report(worst, worstInput, worstElement, worstA, worstN, checked, corners);
  }

  private double relativeError(double analytic, double numeric) {
    double err = Math.abs(analytic - numeric) / Math.max(floor, Math.max(Math.abs(analytic), Math.abs(numeric)));
    return Double.isNaN(err) ? Double.POSITIVE_INFINITY : err;
  }

  private static double valueAt(Evaluator at, Operand<TFloat64> scalar, int input, int element, double value) {
    at.point[input][element] = value;
    return at.fetch(List.of(scalar))[0][0];
  }

  /** Runs the graph at a (mutable) point; every tensor it creates is closed after the run. */
  private static final class Evaluator {
    private final Session session;
    private final List<Placeholder<TFloat64>> placeholders;
    private final List<Shape> shapes = new ArrayList<>();
    private final Placeholder<TFloat64> weightsPlaceholder;
    final double[][] point;
    Input weights;

    Evaluator(Session session, List<Placeholder<TFloat64>> placeholders, List<Input> inputs,
        Placeholder<TFloat64> weightsPlaceholder) {
      this.session = session;
      this.placeholders = placeholders;
      this.weightsPlaceholder = weightsPlaceholder;
      this.point = new double[inputs.size()][];
      for (int i = 0; i < inputs.size(); i++) {
        point[i] = inputs.get(i).values();
        shapes.add(inputs.get(i).shape());
      }
    }

    Shape outputShape(Operand<TFloat64> y) {
      List<Tensor> feeds = new ArrayList<>();
      try (Result r = runner(feeds).fetch(y).run()) {
        return r.get(0).shape();
      } finally {
        feeds.forEach(Tensor::close);
      }
    }

    double[][] fetch(List<? extends Operand<?>> fetches) {
      List<Tensor> feeds = new ArrayList<>();
      Session.Runner runner = runner(feeds);
      fetches.forEach(runner::fetch);
      try (Result r = runner.run()) {
        double[][] out = new double[fetches.size()][];
        for (int i = 0; i < out.length; i++) {
          out[i] = Tensors.toDoubles(r.get(i));
        }
        return out;
      } finally {
        feeds.forEach(Tensor::close);
      }
    }

    private Session.Runner runner(List<Tensor> feeds) {
      Session.Runner runner = session.runner();
      for (int i = 0; i < placeholders.size(); i++) {
        TFloat64 t = Tensors.doubles(shapes.get(i), point[i]);
        feeds.add(t);
        runner.feed(placeholders.get(i), t);
      }
      if (weights != null) {
        TFloat64 t = Tensors.doubles(weights.shape(), weights.values());
        feeds.add(t);
        runner.feed(weightsPlaceholder, t);
      }
      return runner;
    }
  }

  private int[] positions(int size, Random random) {
    if (size <= maxElementsPerInput) {
      int[] all = new int[size];
      for (int i = 0; i < size; i++) {
        all[i] = i;
      }
      return all;
    }
    return random.ints(0, size).distinct().limit(maxElementsPerInput).toArray();
  }

  private static Operand<org.tensorflow.types.TInt32> allAxes(Ops tf, Operand<?> x) {
    return tf.range(tf.constant(0), tf.rank(x), tf.constant(1));
  }
}
