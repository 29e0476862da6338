package io.switchhead.graph.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.switchhead.graph.config.AttentionK;
import io.switchhead.graph.config.DenseAttentionConfig;
import io.switchhead.graph.config.ModelDims;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.params.ParamSpec;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.gradients.Gradients;
import io.switchhead.ops.moe.DenseConditionalMatmul;
import io.switchhead.testing.Seeded;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat64;

class SwitchHeadAttentionTest {

  @Seeded private Random random;

  private double[] normal(long n, double scale) {
    double[] v = new double[(int) n];
    for (int i = 0; i < v.length; i++) {
      v[i] = random.nextGaussian() * scale;
    }
    return v;
  }

  /**
   * Runs {@code build} over constant float64 parameters (the same values each call) and returns the
   * output followed by the gradients of a random projection of it with respect to x and every parameter.
   */
  private List<double[]> outputAndGradients(LayerHarness.Layer layer, Shape xShape, double[] x, Map<String, double[]> params,
      List<ParamSpec> specs, double[] projection) {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      Operand<TFloat64> xIn = tf.reshape(tf.constant(x), tf.constant(xShape.asArray()));
      Map<String, Operand<TFloat64>> values = new HashMap<>();
      List<Operand<?>> wrt = new ArrayList<>(List.of(xIn));
      for (ParamSpec spec : specs) {
        Operand<TFloat64> value = tf.reshape(tf.constant(params.get(spec.path())), tf.constant(spec.shape().asArray()));
        values.put(spec.path(), value);
        wrt.add(value);
      }
      Operand<TFloat64> y = layer.apply(ParamStore.bound(tf, values).root().child("layer"), LayerContext.eval(tf), xIn);
      Operand<TFloat64> scalar = tf.reduceSum(tf.math.mul(tf.reshape(y, tf.constant(new int[] {-1})), tf.constant(projection)), tf.constant(0));
      List<Operand<?>> grads = Gradients.of(tf, scalar, wrt);
      Session.Runner runner = s.runner().fetch(y);
      grads.forEach(runner::fetch);
      List<double[]> out = new ArrayList<>();
      try (Result r = runner.run()) {
        for (int i = 0; i < r.size(); i++) {
          out.add(Tensors.toDoubles(r.get(i)));
        }
      }
      return out;
    }
  }

  private void assertSortedEqualsDense(SwitchHeadConfig c, int b, int t, int d) {
    // The plain graph's segmented dispatch, and XLA's static block-padded one.
    assertDispatchEqualsDense(c, b, t, d, false);
    assertDispatchEqualsDense(c, b, t, d, true);
  }

  private void assertDispatchEqualsDense(SwitchHeadConfig c, int b, int t, int d, boolean staticShapes) {
    Shape xShape = Shape.of(b, t, d);
    LayerHarness.Layer sorted = (p, ctx, x) ->
        SwitchHeadAttention.apply(c, new ModelDims(d, 1, 0), p, staticShapes ? ctx.withStaticShapes() : ctx, AttentionInputs.self(x, t)).output();
    LayerHarness.Layer dense = (p, ctx, x) -> SwitchHeadAttention.apply(c, new ModelDims(d, 1, 0), p, ctx.withDispatch(new DenseConditionalMatmul()), AttentionInputs.self(x, t)).output();
    List<ParamSpec> specs = LayerHarness.specs(sorted, xShape);
    Map<String, double[]> params = new HashMap<>();
    specs.forEach(spec -> params.put(spec.path(), normal(spec.size(), 0.5)));
    double[] x = normal(xShape.size(), 1);
    double[] projection = normal((long) b * t * d, 1);
    List<double[]> a = outputAndGradients(sorted, xShape, x, params, specs, projection);
    List<double[]> r = outputAndGradients(dense, xShape, x, params, specs, projection);
    for (int i = 0; i < a.size(); i++) {
      String what = i == 0 ? "output" : i == 1 ? "d/dx" : "d/d" + specs.get(i - 2).path();
      for (int j = 0; j < a.get(i).length; j++) {
        double expected = r.get(i)[j];
        assertEquals(expected, a.get(i)[j], 1e-10 * (1 + Math.abs(expected)),
            c + (staticShapes ? " static" : " segmented") + " " + what + "[" + j + "]");
      }
    }
  }

  @Test
  void sortedDispatchEqualsTheDenseReferenceInOutputAndAllGradients() {
    assertSortedEqualsDense(new SwitchHeadConfig(2, 4, 2, 4, Positional.ROPE, 0), 2, 5, 8);
    assertSortedEqualsDense(new SwitchHeadConfig(3, 5, 1, 4, Positional.XL, 0), 1, 7, 6);
    assertSortedEqualsDense(new SwitchHeadConfig(1, 4, 4, 8, Positional.ROPE, 0), 3, 3, 8);
    assertSortedEqualsDense(new SwitchHeadConfig(2, 4, 3, 4, Positional.ROPE, 0, AttentionK.ceil()), 2, 5, 8);
    assertSortedEqualsDense(new SwitchHeadConfig(2, 3, 2, 4, Positional.XL, 0, AttentionK.budget(1.5)), 1, 7, 6);
  }

  /** With memory = the previous chunk, the chunk's outputs equal the second half of the concatenated run. */
  private void assertMemoryEqualsConcatenation(BiFunction<Integer, Integer, LayerHarness.Layer> withStepsAndMemory, int t, int d) {
    int b = 2;
    double[] previous = normal((long) b * t * d, 1);
    double[] chunk = normal((long) b * t * d, 1);
    LayerHarness.Layer concatenated = withStepsAndMemory.apply(2 * t, 0);
    List<ParamSpec> specs = LayerHarness.specs(concatenated, Shape.of(b, 2L * t, d));
    Map<String, double[]> params = new HashMap<>();
    specs.forEach(spec -> params.put(spec.path(), normal(spec.size(), 0.5)));
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      Map<String, Operand<TFloat64>> values = new HashMap<>();
      for (ParamSpec spec : specs) {
        values.put(spec.path(), tf.reshape(tf.constant(params.get(spec.path())), tf.constant(spec.shape().asArray())));
      }
      Operand<TFloat64> mem = tf.reshape(tf.constant(previous), tf.constant(new long[] {b, t, d}));
      Operand<TFloat64> x = tf.reshape(tf.constant(chunk), tf.constant(new long[] {b, t, d}));
      Operand<TFloat64> both = tf.concat(List.of(mem, x), tf.constant(1));
      Operand<TFloat64> full = concatenated.apply(ParamStore.bound(tf, values).root().child("layer"), LayerContext.eval(tf), both);
      Operand<TFloat64> secondHalf = tf.slice(full, tf.constant(new int[] {0, t, 0}), tf.constant(new int[] {b, t, d}));
      LayerHarness.Layer withMemory = withStepsAndMemory.apply(t, t);
      // The memory layer takes the chunk as queries and memory+chunk as keys: wrap to pass both.
      Operand<TFloat64> chunked = withMemory.apply(ParamStore.bound(tf, values).root().child("layer"), LayerContext.eval(tf), both);
      try (Result r = s.runner().fetch(secondHalf).fetch(chunked).run()) {
        double[] expected = Tensors.toDoubles(r.get(0));
        double[] got = Tensors.toDoubles(r.get(1));
        for (int i = 0; i < expected.length; i++) {
          assertEquals(expected[i], got[i], 1e-10 * (1 + Math.abs(expected[i])), "element " + i);
        }
      }
    }
  }

  @Test
  void xlMemoryGivesTheResultsOfTheConcatenatedSequence() {
    int t = 4;
    int d = 8;
    SwitchHeadConfig switchHead = new SwitchHeadConfig(2, 3, 2, 4, Positional.XL, 0);
    assertMemoryEqualsConcatenation((steps, memory) -> (p, ctx, kv) -> {
      Operand<TFloat64> q = memory == 0 ? kv : ctx.tf().slice(kv, ctx.tf().constant(new int[] {0, memory, 0}), ctx.tf().constant(new int[] {-1, steps, d}));
      return SwitchHeadAttention.apply(switchHead, new ModelDims(d, 1, 0), p, ctx, new AttentionInputs<>(q, kv, steps, memory)).output();
    }, t, d);
    DenseAttentionConfig dense = new DenseAttentionConfig(2, 4, Positional.XL);
    assertMemoryEqualsConcatenation((steps, memory) -> (p, ctx, kv) -> {
      Operand<TFloat64> q = memory == 0 ? kv : ctx.tf().slice(kv, ctx.tf().constant(new int[] {0, memory, 0}), ctx.tf().constant(new int[] {-1, steps, d}));
      return DenseAttention.apply(dense, new ModelDims(d, 1, 0), p, ctx, new AttentionInputs<>(q, kv, steps, memory));
    }, t, d);
  }

  /**
   * The special case E = 1 (SWITCHHEAD.md section 1) against dense multi-head attention: with V and O
   * copied into the dense layer's layout, SwitchHead's output is the sum over heads of each head's
   * dense contribution (the dense layer run with the other heads' rows of O zeroed) times the head's
   * output gate sigmoid(x S_o^T), computed here in plain Java.
   */
  @Test
  void oneExpertIsDenseAttentionWithAPerHeadOutputGate() {
    int b = 2;
    int t = 3;
    int d = 10;
    int h = 2;
    int dh = 4;
    Shape xShape = Shape.of(b, t, d);
    SwitchHeadConfig oneExpert = new SwitchHeadConfig(h, 1, 1, dh, Positional.ROPE, 0);
    LayerHarness.Layer switchHead = (p, ctx, x) -> SwitchHeadAttention.apply(oneExpert, new ModelDims(d, 1, 0), p, ctx, AttentionInputs.self(x, t)).output();
    LayerHarness.Layer dense = (p, ctx, x) -> DenseAttention.apply(new DenseAttentionConfig(h, dh, Positional.ROPE), new ModelDims(d, 1, 0), p, ctx, AttentionInputs.self(x, t));

    Map<String, double[]> params = new HashMap<>();
    List<ParamSpec> specs = LayerHarness.specs(switchHead, xShape);
    specs.forEach(spec -> params.put(spec.path(), normal(spec.size(), 0.5)));
    double[] x = normal(xShape.size(), 1);
    double[] noProjection = new double[b * t * d];
    double[] got = outputAndGradients(switchHead, xShape, x, params, specs, noProjection).get(0);

    // SwitchHead's v [H, D, dh] and o [H, dh, D] in the dense layer's v [D, H*dh] and o [H*dh, D].
    double[] v = params.get("layer/v");
    double[] o = params.get("layer/o");
    double[] denseV = new double[d * h * dh];
    for (int head = 0; head < h; head++) {
      for (int c = 0; c < d; c++) {
        for (int j = 0; j < dh; j++) {
          denseV[c * h * dh + head * dh + j] = v[(head * d + c) * dh + j];
        }
      }
    }
    List<ParamSpec> denseSpecs = LayerHarness.specs(dense, xShape);
    double[] expected = new double[b * t * d];
    double[] selO = params.get("layer/sel_o"); // [H, D]
    for (int head = 0; head < h; head++) {
      double[] oneHeadO = new double[h * dh * d]; // the other heads' rows stay zero
      System.arraycopy(o, head * dh * d, oneHeadO, head * dh * d, dh * d);
      Map<String, double[]> denseParams = new HashMap<>(Map.of("layer/q", params.get("layer/q"), "layer/k", params.get("layer/k"),
          "layer/v", denseV, "layer/o", oneHeadO));
      double[] headOut = outputAndGradients(dense, xShape, x, denseParams, denseSpecs, noProjection).get(0);
      for (int n = 0; n < b * t; n++) {
        double logit = 0;
        for (int c = 0; c < d; c++) {
          logit += x[n * d + c] * selO[head * d + c];
        }
        double gate = 1 / (1 + Math.exp(-logit));
        for (int c = 0; c < d; c++) {
          expected[n * d + c] += gate * headOut[n * d + c];
        }
      }
    }
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], got[i], 1e-10 * (1 + Math.abs(expected[i])), "output[" + i + "]");
    }
  }
}
