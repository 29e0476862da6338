package io.switchhead.graph.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.ModelDims;
import io.switchhead.graph.config.PeerConfig;
import io.switchhead.graph.config.PeerConfig.Activation;
import io.switchhead.graph.params.ParamSpec;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.check.GradientChecker;
import io.switchhead.testing.Seeded;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat64;

/** The PEER feed-forward against a plain-Java loop over tokens, heads and all N experts. */
class PeerFeedForwardTest {

  private static final int B = 2;
  private static final int T = 3;
  private static final int D = 5;
  private static final ModelDims DIMS = new ModelDims(D, 1, 0);

  @Seeded private Random random;

  /** A layer run: its output, the usage figures, and the buffer targets a training step would get. */
  private record Run(double[] y, double entropy, double share, Map<String, double[]> targets) {}

  /** Fresh random parameters for every spec, buffers (positive) included. */
  private Map<String, double[]> randomValues(List<ParamSpec> specs) {
    Map<String, double[]> values = new HashMap<>();
    for (ParamSpec spec : specs) {
      values.put(spec.path(), random.doubles(spec.size()).map(u -> spec.path().endsWith("variance") ? 0.5 + u : 2 * u - 1).toArray());
    }
    return values;
  }

  private static Run run(PeerConfig c, boolean training, long chunkBytes, double[] x, Map<String, double[]> values, Map<String, Shape> shapes) {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      ParamStore store = LayerHarness.constants(tf, values, shapes);
      LayerContext ctx = training ? LayerContext.train(tf, tf.constant(new long[] {1, 2})) : LayerContext.eval(tf);
      PeerFeedForward.Output<TFloat64> out =
          PeerFeedForward.apply(c, DIMS, store.root().child("layer"), ctx, tf.constant(Shape.of(B, T, D), DataBuffers.of(x)), chunkBytes);
      Session.Runner runner = s.runner().fetch(out.output()).fetch(out.usage().entropy()).fetch(out.usageShare());
      List<ParamStore.BufferUpdate> updates = store.bufferUpdates();
      updates.forEach(u -> runner.fetch(u.target()));
      try (Result r = runner.run()) {
        Map<String, double[]> targets = new HashMap<>();
        for (int i = 0; i < updates.size(); i++) {
          targets.put(updates.get(i).spec().path(), Tensors.toDoubles(r.get(3 + i)));
        }
        return new Run(Tensors.toDoubles(r.get(0)), ((TFloat64) r.get(1)).getDouble(), ((TFloat64) r.get(2)).getDouble(), targets);
      }
    }
  }

  /** The layer written as loops: BatchNorm, brute-force top-k over all N product keys, softmax, neurons. */
  private static Run reference(PeerConfig c, boolean training, double[] x, Map<String, double[]> p) {
    int s = B * T;
    int h = c.heads();
    int dk = c.keyDim();
    int d2 = dk / 2;
    int f = h * dk;
    int n = c.subKeys();
    int k = c.k();
    double[] wq = p.get("layer/query");
    double[] q = new double[s * f];
    for (int t = 0; t < s; t++) {
      for (int j = 0; j < f; j++) {
        for (int i = 0; i < D; i++) {
          q[t * f + j] += x[t * D + i] * wq[i * f + j];
        }
      }
    }
    double[] mean = new double[f];
    double[] variance = new double[f];
    if (training) {
      for (int j = 0; j < f; j++) {
        for (int t = 0; t < s; t++) {
          mean[j] += q[t * f + j] / s;
        }
        for (int t = 0; t < s; t++) {
          variance[j] += Math.pow(q[t * f + j] - mean[j], 2) / s;
        }
      }
    } else {
      mean = p.get("layer/bn_mean");
      variance = p.get("layer/bn_variance");
    }
    double[] y = new double[s * D];
    double[] summedGates = new double[c.experts()];
    for (int t = 0; t < s; t++) {
      double[] qn = new double[f];
      for (int j = 0; j < f; j++) {
        qn[j] = (q[t * f + j] - mean[j]) / Math.sqrt(variance[j] + c.batchNormEpsilon()) * p.get("layer/bn_scale")[j] + p.get("layer/bn_bias")[j];
      }
      for (int head = 0; head < h; head++) {
        double[] score = new double[c.experts()];
        for (int id = 0; id < c.experts(); id++) {
          for (int i = 0; i < d2; i++) {
            score[id] += qn[head * dk + i] * p.get("layer/keys1")[(id / n) * d2 + i] + qn[head * dk + d2 + i] * p.get("layer/keys2")[(id % n) * d2 + i];
          }
        }
        int[] top = IntStream.range(0, c.experts()).boxed().sorted(Comparator.comparingDouble(id -> -score[id])).limit(k)
            .mapToInt(Integer::intValue).toArray();
        double normaliser = 0;
        for (int id : top) {
          normaliser += Math.exp(score[id] - score[top[0]]);
        }
        for (int id : top) {
          double gate = Math.exp(score[id] - score[top[0]]) / normaliser;
          summedGates[id] += gate;
          double pre = 0;
          for (int i = 0; i < D; i++) {
            pre += p.get("layer/u")[id * D + i] * x[t * D + i];
          }
          double act = c.activation() == Activation.RELU ? Math.max(pre, 0) : 0.5 * pre * (1 + erf(pre / Math.sqrt(2)));
          for (int i = 0; i < D; i++) {
            y[t * D + i] += gate * act * p.get("layer/v")[id * D + i];
          }
        }
      }
    }
    double total = IntStream.range(0, c.experts()).mapToDouble(i -> summedGates[i]).sum();
    double entropy = 0;
    int used = 0;
    for (double z : summedGates) {
      if (z > 0) {
        used++;
        entropy -= z / total * Math.log(z / total);
      }
    }
    return new Run(y, entropy, used / (double) c.experts(), training ? Map.of("layer/bn_mean", mean, "layer/bn_variance", variance) : Map.of());
  }

  /** Abramowitz and Stegun 7.1.26 is too coarse for 1e-9; a series for |x| < 3, the complement beyond. */
  private static double erf(double x) {
    if (Math.abs(x) > 3) {
      // erfc(x) < 2.3e-5 here; its continued fraction converges fast.
      double ax = Math.abs(x);
      double frac = 0;
      for (int i = 60; i >= 1; i--) {
        frac = i / 2.0 / (ax + frac);
      }
      double erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + frac);
      return Math.signum(x) * (1 - erfc);
    }
    double sum = 0;
    double term = x;
    for (int i = 0; i < 200; i++) {
      sum += term / (2 * i + 1);
      term *= -x * x / (i + 1);
    }
    return 2 / Math.sqrt(Math.PI) * sum;
  }

  private void matchesTheLoops(PeerConfig c, boolean training) {
    List<ParamSpec> specs = LayerHarness.specs(layer(c), Shape.of(B, T, D));
    List<ParamSpec> buffers = LayerHarness.bufferSpecs(layer(c), Shape.of(B, T, D));
    Map<String, Shape> shapes = new HashMap<>();
    specs.forEach(spec -> shapes.put(spec.path(), spec.shape()));
    buffers.forEach(spec -> shapes.put(spec.path(), spec.shape()));
    Map<String, double[]> values = randomValues(specs);
    if (!training) {
      values.putAll(randomValues(buffers));
    }
    double[] x = random.doubles(B * T * D).map(u -> 2 * u - 1).toArray();
    Run expected = reference(c, training, x, values);
    // One chunk, a chunk per token, and chunks of 4 tokens (the last ragged: 6 = 4 + 2).
    long bytesPerToken = (long) c.heads() * c.k() * D * Double.BYTES;
    for (long chunkBytes : new long[] {Long.MAX_VALUE, bytesPerToken, 4 * bytesPerToken}) {
      matches(expected, run(c, training, chunkBytes, x, values, shapes), c + (training ? " in training" : " in evaluation")
          + ", chunks of " + PeerFeedForward.chunkSizes(c, Shape.of(B, T, D), Double.BYTES, chunkBytes));
    }
  }

  private static void matches(Run expected, Run actual, String what) {
    for (int i = 0; i < expected.y().length; i++) {
      assertEquals(expected.y()[i], actual.y()[i], 1e-9, what + ": output " + i);
    }
    assertEquals(expected.entropy(), actual.entropy(), 1e-9, what + ": usage entropy");
    assertEquals(expected.share(), actual.share(), 1e-12, what + ": usage share");
    assertEquals(expected.targets().keySet(), actual.targets().keySet(), what + ": buffer updates");
    expected.targets().forEach((path, target) -> {
      for (int i = 0; i < target.length; i++) {
        assertEquals(target[i], actual.targets().get(path)[i], 1e-9, what + ": target of " + path + " at " + i);
      }
    });
  }

  private static LayerHarness.Layer layer(PeerConfig c) {
    return (p, ctx, x) -> PeerFeedForward.apply(c, DIMS, p, ctx, x).output();
  }

  @Test
  void equalsTheLoopReferenceInTrainingAndEvaluation() {
    for (PeerConfig c : List.of(new PeerConfig(16, 2, 3, 4, Activation.RELU, 0.9, 1e-3),
        new PeerConfig(25, 3, 5, 6, Activation.GELU, 0.99, 1e-2), new PeerConfig(9, 1, 1, 2, Activation.RELU, 0, 1e-3))) {
      matchesTheLoops(c, true);
      matchesTheLoops(c, false);
    }
  }

  @Test
  void gradientsMatchFiniteDifferencesOnBatchStatistics() {
    PeerConfig c = new PeerConfig(16, 2, 3, 4, Activation.GELU, 0.9, 1e-3);
    // Whole, and in chunks of 4 tokens (4 + 2): the tables' gradients flow through every chunk's gather.
    for (long chunkBytes : new long[] {Long.MAX_VALUE, 4L * c.heads() * c.k() * D * Double.BYTES}) {
      GradientChecker.Report report = LayerHarness.check((p, ctx, x) -> PeerFeedForward.apply(c, DIMS, p, ctx, x, chunkBytes).output(),
          Shape.of(B, T, D), random, tf -> LayerContext.train(tf, tf.constant(new long[] {7, 11})));
      assertTrue(report.maxRelativeError() < 1e-5, "chunks of at most " + chunkBytes + " bytes: " + report);
    }
  }

  @Test
  void evaluationReadsTheMovingStatisticsAsBuffersNotParameters() {
    PeerConfig c = new PeerConfig(16, 2, 3, 4, Activation.RELU, 0.9, 1e-3);
    List<String> buffers = LayerHarness.bufferSpecs(layer(c), Shape.of(B, T, D)).stream().map(ParamSpec::path).toList();
    assertEquals(List.of("layer/bn_mean", "layer/bn_variance"), buffers);
    List<String> params = LayerHarness.specs(layer(c), Shape.of(B, T, D)).stream().map(ParamSpec::path).toList();
    assertEquals(List.of("layer/query", "layer/bn_scale", "layer/bn_bias", "layer/keys1", "layer/keys2", "layer/u", "layer/v"), params);
  }
}
