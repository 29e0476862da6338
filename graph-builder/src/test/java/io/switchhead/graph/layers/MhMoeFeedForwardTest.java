package io.switchhead.graph.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.MhMoeConfig;
import io.switchhead.graph.config.ModelDims;
import io.switchhead.graph.params.ParamSpec;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.check.GradientChecker;
import io.switchhead.testing.Seeded;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat64;

/**
 * The MH-MoE feed-forward against a plain-Java loop over sub-tokens and experts (SEEDS-MOE.md steps
 * 1-7), in float64 on random inputs: with and without capacity drops, in training (capacity) and
 * evaluation (dropless), and its gradients by finite differences.
 */
class MhMoeFeedForwardTest {

  private static final int B = 2;
  private static final int T = 3;
  private static final int D = 8;
  @Seeded private Random random;

  /** h 2 (w 4), 3 experts of 5, top-2: 12 sub-tokens, 24 choices, at most 12 per expert. */
  private static MhMoeConfig topTwo(double capacityFactor) {
    return new MhMoeConfig(2, 3, 2, 5, capacityFactor, 0.01, false);
  }

  /** What the graph computed. */
  private record Graphed(double[] y, double loss, int[] ids, double droppedShare) {}

  /** What the loop computed. */
  private record Reference(double[] y, double loss, int[] ids, int dropped) {}

  @Test
  void trainingWithoutDropsMatchesTheLoop() {
    // C = ceil(2 * 2 * ceil(12 / 3)) = 16 >= 12: no expert can overflow.
    Reference ref = compare(topTwo(2.0), true);
    assertEquals(0, ref.dropped());
  }

  @Test
  void trainingWithDropsMatchesTheLoopAndCountsThem() {
    // C = ceil(0.5 * 2 * 4) = 4 per expert: 12 of the 24 choices fit at most.
    Reference ref = compare(topTwo(0.5), true);
    assertTrue(ref.dropped() >= 12, "dropped " + ref.dropped());
  }

  @Test
  void topOneWithTheSpecsCapacityMatchesTheLoop() {
    // h 4 (w 2), 4 experts, top-1: C = ceil(24 / 4) = 6; an uneven routing drops some.
    compare(new MhMoeConfig(4, 4, 1, 3, 1.0, 0.01, false), true);
  }

  @Test
  void evaluationIsDroplessWhateverTheCapacity() {
    Reference ref = compare(topTwo(0.25), false);
    assertEquals(0, ref.dropped());
  }

  @Test
  void splitPutsSubTokenJOfTokenIAtRowIhPlusJAndMergeUndoesIt() {
    int s = 3;
    int h = 4;
    int d = 8;
    double[] tokens = new double[s * d];
    for (int i = 0; i < tokens.length; i++) {
      tokens[i] = random.nextGaussian();
    }
    try (Graph g = new Graph();
        Session session = new Session(g)) {
      Ops tf = GraphOps.create(g);
      Operand<TFloat64> x = constant(tf, Shape.of(s, d), tokens);
      Operand<TFloat64> sub = MhMoeFeedForward.split(tf, x, h);
      Operand<TFloat64> back = MhMoeFeedForward.merge(tf, sub, d);
      try (Result r = session.runner().fetch(sub).fetch(back).run()) {
        assertEquals(Shape.of(s * h, d / h), r.get(0).shape());
        double[] rows = Tensors.toDoubles(r.get(0));
        int w = d / h;
        for (int i = 0; i < s; i++) {
          for (int j = 0; j < h; j++) {
            for (int q = 0; q < w; q++) {
              assertEquals(tokens[i * d + j * w + q], rows[(i * h + j) * w + q], "token " + i + " sub-token " + j + " column " + q);
            }
          }
        }
        assertArrayEquals(tokens, Tensors.toDoubles(r.get(1)));
      }
    }
  }

  @Test
  void trainingWithDropsStaysCausalWithinASequence() {
    // Slots fill in row order: a change at the last position of batch row 0 may change batch row 1
    // (later rows), never the earlier positions of row 0.
    MhMoeConfig c = topTwo(0.5);
    ModelDims dims = new ModelDims(D, 1, 0);
    LayerHarness.Layer probe = (p, ctx, x) -> MhMoeFeedForward.apply(c, dims, p, ctx, x).output();
    List<ParamSpec> specs = LayerHarness.specs(probe, Shape.of(B, T, D));
    Map<String, double[]> values = new HashMap<>();
    for (ParamSpec spec : specs) {
      values.put(spec.path().substring("layer/".length()), gaussians(Math.toIntExact(spec.shape().size())));
    }
    double[] x = gaussians(B * T * D);
    double[] changed = x.clone();
    for (int col = 0; col < D; col++) {
      changed[(T - 1) * D + col] += 3 * random.nextGaussian(); // row 0, last position
    }
    double[] before = run(c, dims, specs, values, x, true).y();
    double[] after = run(c, dims, specs, values, changed, true).y();
    for (int i = 0; i < (T - 1) * D; i++) {
      assertEquals(before[i], after[i], 0.0, "row 0, position " + i / D);
    }
    assertTrue(reference(c, values, x, c.capacity(B * T)).dropped() > 0, "the case must drop something");
  }

  @Test
  void gradientsMatchFiniteDifferencesWithDropsInTraining() {
    MhMoeConfig c = topTwo(0.5);
    LayerHarness.Layer layer = (p, ctx, x) -> {
      var out = MhMoeFeedForward.apply(c, new ModelDims(D, 1, 0), p, ctx, x);
      return ctx.tf().math.add(out.output(), out.balanceLoss());
    };
    GradientChecker.Report report = LayerHarness.check(layer, Shape.of(B, T, D), random,
        tf -> LayerContext.train(tf, tf.constant(new long[] {3, 4})));
    assertTrue(report.maxRelativeError() < 1e-5, report.toString());
  }

  /** Runs the layer on fresh random values and compares everything with the loop; returns the loop's. */
  private Reference compare(MhMoeConfig c, boolean training) {
    ModelDims dims = new ModelDims(D, 1, 0);
    LayerHarness.Layer probe = (p, ctx, x) -> MhMoeFeedForward.apply(c, dims, p, ctx, x).output();
    List<ParamSpec> specs = LayerHarness.specs(probe, Shape.of(B, T, D));
    Map<String, double[]> values = new HashMap<>();
    for (ParamSpec spec : specs) {
      values.put(spec.path().substring("layer/".length()), gaussians(Math.toIntExact(spec.shape().size())));
    }
    double[] x = gaussians(B * T * D);
    Graphed graphed = run(c, dims, specs, values, x, training);
    Reference ref = reference(c, values, x, training ? c.capacity(B * T) : Integer.MAX_VALUE);
    String what = c + (training ? " training" : " evaluation");
    // The usage ids: one row per token, sub-token j as head j (id = j*E + e), in the layer's row order.
    int[] usageIds = new int[ref.ids().length];
    for (int i = 0; i < usageIds.length; i++) {
      usageIds[i] = ref.ids()[i] + (i / c.k()) % c.heads() * c.experts();
    }
    assertArrayEquals(usageIds, graphed.ids(), what + ": chosen experts");
    assertArrayEquals(ref.y(), graphed.y(), 1e-10, what + ": output");
    assertEquals(ref.loss(), graphed.loss(), 1e-12, what + ": balance loss");
    assertEquals((double) ref.dropped() / (B * T * c.heads() * c.k()), graphed.droppedShare(), 1e-7, what + ": dropped share");
    return ref;
  }

  private Graphed run(MhMoeConfig c, ModelDims dims, List<ParamSpec> specs, Map<String, double[]> values, double[] x, boolean training) {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      Map<String, Operand<TFloat64>> bound = new HashMap<>();
      for (ParamSpec spec : specs) {
        bound.put(spec.path(), constant(tf, spec.shape(), values.get(spec.path().substring("layer/".length()))));
      }
      LayerContext ctx = training ? LayerContext.train(tf, tf.constant(new long[] {5, 6})) : LayerContext.eval(tf);
      MhMoeFeedForward.Output<TFloat64> out = MhMoeFeedForward.apply(c, dims, ParamStore.bound(tf, bound).root().child("layer"), ctx,
          constant(tf, Shape.of(B, T, D), x));
      assertEquals(training, out.usage().droppedShare().isPresent(), "a dropped share exactly where a capacity applies");
      Operand<?> dropped = out.usage().droppedShare().isPresent() ? out.usage().droppedShare().get() : tf.constant(0f);
      try (Result r = s.runner().fetch(out.output()).fetch(out.balanceLoss()).fetch(out.usage().ids()).fetch(dropped).run()) {
        return new Graphed(Tensors.toDoubles(r.get(0)), Tensors.toDoubles(r.get(1))[0], Tensors.toInts(r.get(2)),
            Tensors.toFloats(r.get(3))[0]);
      }
    }
  }

  /** SEEDS-MOE.md steps 1-7 as loops; {@code capacity} sub-token choices per expert, in row order. */
  private static Reference reference(MhMoeConfig c, Map<String, double[]> p, double[] x, int capacity) {
    int s = B * T;
    int h = c.heads();
    int w = D / h;
    int e = c.experts();
    int g = c.expertSize();
    int k = c.k();
    double[] headW = p.get("head_w"); // [D, D], x times W
    double[] headB = p.get("head_b");
    double[] router = p.get("sel"); // [E, w]
    double[] fc1 = p.get("fc1"); // [E, w, G]
    double[] fc3 = p.get("fc3");
    double[] fc2 = p.get("fc2"); // [E, G, w]
    double[] mergeW = p.get("merge_w");
    double[] mergeB = p.get("merge_b");
    int rows = s * h;
    double[][] sub = new double[rows][w];
    for (int i = 0; i < s; i++) {
      for (int col = 0; col < D; col++) {
        double v = headB[col];
        for (int a = 0; a < D; a++) {
          v += x[i * D + a] * headW[a * D + col];
        }
        sub[i * h + col / w][col % w] = v; // sub-token j = col / w of token i at row i*h + j
      }
    }
    int[] ids = new int[rows * k];
    double[] gates = new double[rows * k];
    double[] meanP = new double[e];
    double[] top1 = new double[e];
    for (int r = 0; r < rows; r++) {
      double[] logit = new double[e];
      double max = Double.NEGATIVE_INFINITY;
      for (int ex = 0; ex < e; ex++) {
        for (int q = 0; q < w; q++) {
          logit[ex] += sub[r][q] * router[ex * w + q];
        }
        max = Math.max(max, logit[ex]);
      }
      double[] prob = new double[e];
      double z = 0;
      for (int ex = 0; ex < e; ex++) {
        prob[ex] = Math.exp(logit[ex] - max);
        z += prob[ex];
      }
      boolean[] taken = new boolean[e];
      double chosenSum = 0;
      for (int j = 0; j < k; j++) {
        int best = -1;
        for (int ex = 0; ex < e; ex++) {
          if (!taken[ex] && (best < 0 || prob[ex] > prob[best])) {
            best = ex;
          }
        }
        taken[best] = true;
        ids[r * k + j] = best;
        gates[r * k + j] = prob[best] / z;
        chosenSum += prob[best] / z;
      }
      if (k > 1) {
        for (int j = 0; j < k; j++) {
          gates[r * k + j] /= chosenSum;
        }
      }
      for (int ex = 0; ex < e; ex++) {
        meanP[ex] += prob[ex] / z / rows;
      }
      top1[ids[r * k]] += 1.0 / rows;
    }
    int[] filled = new int[e];
    int dropped = 0;
    double[][] y = new double[rows][w];
    for (int r = 0; r < rows; r++) {
      for (int j = 0; j < k; j++) {
        int ex = ids[r * k + j];
        if (filled[ex]++ >= capacity) {
          dropped++;
          continue;
        }
        for (int u = 0; u < g; u++) {
          double a = 0;
          double b = 0;
          for (int q = 0; q < w; q++) {
            a += sub[r][q] * fc1[(ex * w + q) * g + u];
            b += sub[r][q] * fc3[(ex * w + q) * g + u];
          }
          double hidden = a * b / (1 + Math.exp(-b)); // fc1(x) * silu(fc3(x))
          for (int q = 0; q < w; q++) {
            y[r][q] += gates[r * k + j] * hidden * fc2[(ex * g + u) * w + q];
          }
        }
      }
    }
    double[] out = new double[s * D];
    for (int i = 0; i < s; i++) {
      for (int col = 0; col < D; col++) {
        double v = mergeB[col];
        for (int a = 0; a < D; a++) {
          v += y[i * h + a / w][a % w] * mergeW[a * D + col];
        }
        out[i * D + col] = v;
      }
    }
    double balance = 0;
    for (int ex = 0; ex < e; ex++) {
      balance += meanP[ex] * top1[ex];
    }
    return new Reference(out, c.balanceWeight() * e * balance, ids, dropped);
  }

  /** A graph constant of these values; the tensor it is made from is closed at once (the graph keeps a copy). */
  private static Operand<TFloat64> constant(Ops tf, Shape shape, double[] values) {
    try (TFloat64 t = Tensors.doubles(shape, values)) {
      return tf.constant(t);
    }
  }

  private double[] gaussians(int n) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = random.nextGaussian();
    }
    return v;
  }
}
