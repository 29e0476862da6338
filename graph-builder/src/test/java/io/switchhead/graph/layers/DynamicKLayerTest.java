package io.switchhead.graph.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.AttentionK;
import io.switchhead.graph.config.ModelDims;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.params.ParamSpec;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.testing.Seeded;
import java.util.ArrayList;
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

/** Dynamic-k layers (our design) against loop references and their fixed-k special cases. */
class DynamicKLayerTest {

  private static final int B = 2;
  private static final int T = 4;
  private static final int D = 6;
  @Seeded private Random random;

  /** A layer's fetches over bound float64 parameters. */
  private interface Fetches {
    List<Operand<?>> apply(ParamStore store, LayerContext ctx, Operand<TFloat64> x);
  }

  private double[] normal(long n, double scale) {
    return IntStream.range(0, (int) n).mapToDouble(i -> random.nextGaussian() * scale).toArray();
  }

  private static List<double[]> run(Fetches fetches, double[] x, Map<String, double[]> params, List<ParamSpec> specs) {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      Map<String, Operand<TFloat64>> values = new HashMap<>();
      for (ParamSpec spec : specs) {
        values.put(spec.path(), tf.constant(spec.shape(), DataBuffers.of(params.get(spec.path()))));
      }
      List<Operand<?>> out = fetches.apply(ParamStore.bound(tf, values), LayerContext.eval(tf), tf.constant(Shape.of(B, T, D), DataBuffers.of(x)));
      Session.Runner runner = s.runner();
      out.forEach(runner::fetch);
      List<double[]> result = new ArrayList<>();
      try (Result r = runner.run()) {
        for (int i = 0; i < out.size(); i++) {
          result.add(r.get(i) instanceof org.tensorflow.types.TFloat32 f
              ? IntStream.range(0, Tensors.toFloats(f).length).mapToDouble(j -> Tensors.toFloats(f)[j]).toArray()
              : Tensors.toDoubles(r.get(i)));
        }
      }
      return result;
    }
  }

  private static List<ParamSpec> specs(LayerHarness.Layer layer) {
    return LayerHarness.specs(layer, Shape.of(B, T, D));
  }

  private Map<String, double[]> randomParams(List<ParamSpec> specs) {
    Map<String, double[]> params = new HashMap<>();
    specs.forEach(spec -> params.put(spec.path(), normal(spec.size(), 0.7)));
    return params;
  }

  /** Random importances [B, T] in (0, 1], each row's maximum 1, as the attention gives them. */
  private double[] randomImportance() {
    double[] s = random.doubles(B * T, 0.05, 1).toArray();
    for (int b = 0; b < B; b++) {
      s[b * T + random.nextInt(T)] = 1;
    }
    return s;
  }

  @Test
  void sigmaMoeWithDynamicKMatchesALoopOverEachTokensTopK() {
    int e = 5;
    int g = 3;
    int kMax = 3;
    SigmaMoeConfig c = new SigmaMoeConfig(e, g, kMax, 0, 0, AttentionK.ceil());
    double[] importance = randomImportance();
    Fetches layer = (store, ctx, x) -> {
      SigmaMoeFeedForward.Output<TFloat64> out = SigmaMoeFeedForward.apply(c, new ModelDims(D, 1, 0), store.root().child("layer"), ctx, x,
          ctx.tf().constant(Shape.of(B, T), DataBuffers.of(importance)));
      return List.of(out.output(), out.usage().meanK(ctx.tf()));
    };
    List<ParamSpec> specs = specs((p, ctx, x) -> SigmaMoeFeedForward.apply(c, new ModelDims(D, 1, 0), p, ctx, x,
        ctx.tf().constant(Shape.of(B, T), DataBuffers.of(importance))).output());
    Map<String, double[]> params = randomParams(specs);
    double[] x = normal(B * T * D, 1);
    List<double[]> got = run(layer, x, params, specs);

    double[] sel = params.get("layer/sel"); // [E, D]
    double[] keys = params.get("layer/keys"); // [E, D, G]
    double[] values = params.get("layer/values"); // [E, G, D]
    double[] expected = new double[B * T * D];
    double kSum = 0;
    for (int n = 0; n < B * T; n++) {
      double[] logits = new double[e];
      for (int ex = 0; ex < e; ex++) {
        for (int i = 0; i < D; i++) {
          logits[ex] += x[n * D + i] * sel[ex * D + i];
        }
      }
      int kn = (int) Math.min(kMax, Math.max(1, Math.ceil(importance[n] * kMax)));
      kSum += kn;
      Integer[] order = IntStream.range(0, e).boxed().sorted(Comparator.comparingDouble(ex -> -logits[ex])).toArray(Integer[]::new);
      for (int slot = 0; slot < kn; slot++) {
        int ex = order[slot];
        double gate = 1 / (1 + Math.exp(-logits[ex]));
        for (int j = 0; j < g; j++) {
          double h = 0;
          for (int i = 0; i < D; i++) {
            h += x[n * D + i] * keys[(ex * D + i) * g + j];
          }
          h = Math.max(0, h);
          for (int i = 0; i < D; i++) {
            expected[n * D + i] += gate * h * values[(ex * g + j) * D + i];
          }
        }
      }
    }
    assertArrayEquals(expected, got.get(0), 1e-10);
    assertEquals(kSum / (B * T), got.get(1)[0], 1e-6);
  }

  @Test
  void sigmaMoeWithEqualImportancesIsTheFixedTopKLayer() {
    SigmaMoeConfig fixed = new SigmaMoeConfig(5, 3, 2, 0, 0);
    SigmaMoeConfig dynamic = new SigmaMoeConfig(5, 3, 2, 0, 0, AttentionK.ceil());
    List<ParamSpec> specs = specs((p, ctx, x) -> SigmaMoeFeedForward.apply(fixed, new ModelDims(D, 1, 0), p, ctx, x).output());
    Map<String, double[]> params = randomParams(specs);
    double[] x = normal(B * T * D, 1);
    double[] ones = new double[B * T];
    java.util.Arrays.fill(ones, 1);
    double[] a = run((store, ctx, in) -> List.of(SigmaMoeFeedForward.apply(fixed, new ModelDims(D, 1, 0), store.root().child("layer"), ctx, in).output()),
        x, params, specs).get(0);
    double[] b = run((store, ctx, in) -> List.of(SigmaMoeFeedForward.apply(dynamic, new ModelDims(D, 1, 0), store.root().child("layer"), ctx, in,
        ctx.tf().constant(Shape.of(B, T), DataBuffers.of(ones))).output()), x, params, specs).get(0);
    assertArrayEquals(a, b, 0.0);
  }

  @Test
  void dynamicSwitchHeadUsesBetweenOneAndKMaxAndKMaxOneIsFixedTopOne() {
    ModelDims dims = new ModelDims(D, 1, 0);
    SwitchHeadConfig dynamic = new SwitchHeadConfig(2, 4, 3, 4, Positional.ROPE, 0, AttentionK.ceil());
    SwitchHeadConfig fixed = new SwitchHeadConfig(2, 4, 3, 4, Positional.ROPE, 0);
    List<ParamSpec> specs = specs((p, ctx, x) -> SwitchHeadAttention.apply(fixed, dims, p, ctx, AttentionInputs.self(x, T)).output());
    Map<String, double[]> params = randomParams(specs);
    double[] x = normal(B * T * D, 1);
    List<double[]> dyn = run((store, ctx, in) -> {
      SwitchHeadAttention.Output<TFloat64> out = SwitchHeadAttention.apply(dynamic, dims, store.root().child("layer"), ctx, AttentionInputs.self(in, T));
      return List.of(out.output(), out.usage().get(0).meanK(ctx.tf()), out.usage().get(1).meanK(ctx.tf()), out.importance().keys());
    }, x, params, specs);
    double[] full = run((store, ctx, in) -> List.of(SwitchHeadAttention.apply(fixed, dims, store.root().child("layer"), ctx, AttentionInputs.self(in, T)).output()),
        x, params, specs).get(0);
    // K from the layer's own importances, as the loop computes it: the mean the layer reports.
    double kSum = 0;
    for (double s : dyn.get(3)) {
      assertTrue(s > 0 && s <= 1, "importance " + s);
      kSum += Math.min(3, Math.max(1, Math.ceil(s * 3)));
    }
    assertEquals(kSum / (B * T), dyn.get(1)[0], 1e-6, "value selection's mean K");
    assertEquals(kSum / (B * T), dyn.get(2)[0], 1e-6, "output selection's mean K (self-attention: the same tokens)");
    assertTrue(dyn.get(1)[0] >= 1 && dyn.get(1)[0] <= 3);
    if (dyn.get(1)[0] < 3) {
      assertNotEquals(java.util.Arrays.toString(full), java.util.Arrays.toString(dyn.get(0)), "some token uses fewer experts");
    }

    SwitchHeadConfig topOne = new SwitchHeadConfig(2, 4, 1, 4, Positional.ROPE, 0);
    SwitchHeadConfig dynamicTopOne = new SwitchHeadConfig(2, 4, 1, 4, Positional.ROPE, 0, AttentionK.ceil());
    double[] a = run((store, ctx, in) -> List.of(SwitchHeadAttention.apply(topOne, dims, store.root().child("layer"), ctx, AttentionInputs.self(in, T)).output()),
        x, params, specs).get(0);
    double[] b = run((store, ctx, in) -> List.of(SwitchHeadAttention.apply(dynamicTopOne, dims, store.root().child("layer"), ctx, AttentionInputs.self(in, T)).output()),
        x, params, specs).get(0);
    assertArrayEquals(a, b, 0.0);
  }
}
