package io.switchhead.graph.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.accounting.ParameterCount;
import io.switchhead.graph.config.AttentionConfig;
import io.switchhead.graph.config.AttentionK;
import io.switchhead.graph.config.DenseAttentionConfig;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.FeedForwardConfig;
import io.switchhead.graph.config.MhMoeConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.PeerConfig;
import io.switchhead.graph.config.PerBlockFeedForwardConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.Presets;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.gradients.GradientCoverage;
import io.switchhead.testing.Seeded;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

class LanguageModelTest {

  private static final int VOCAB = 13;
  private static final int T = 5;
  @Seeded private Random random;

  static ModelConfig small(AttentionConfig attention, FeedForwardConfig ff) {
    return new ModelConfig(VOCAB, 16, 2, T, attention, ff, 0.0, 0.7);
  }

  static Stream<Arguments> variants() {
    DenseFeedForwardConfig ff = new DenseFeedForwardConfig(24);
    return Stream.of(
        Arguments.of("switchhead-rope", small(new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0), ff)),
        Arguments.of("switchhead-xl", small(new SwitchHeadConfig(2, 3, 2, 8, Positional.XL, 0), ff)),
        Arguments.of("switchhead-e1", small(new SwitchHeadConfig(2, 1, 1, 8, Positional.ROPE, 0), ff)),
        Arguments.of("dense-rope", small(new DenseAttentionConfig(3, 8, Positional.ROPE), ff)),
        Arguments.of("dense-xl", small(new DenseAttentionConfig(3, 8, Positional.XL), ff)),
        Arguments.of("switchall", small(new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0), new SigmaMoeConfig(4, 6, 2, 0, 1e-3))),
        Arguments.of("sigma-moe in block 1 only", small(new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0),
            new PerBlockFeedForwardConfig(new SigmaMoeConfig(4, 6, 2, 0, 1e-3), ff, 1, 2))),
        Arguments.of("mh-moe in block 1", small(new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0),
            new PerBlockFeedForwardConfig(new MhMoeConfig(4, 3, 2, 5, 1.0, 0.01, false), ff, 1, 2))),
        Arguments.of("peer in block 1 only", small(new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0),
            new PerBlockFeedForwardConfig(new PeerConfig(16, 2, 3, 4, PeerConfig.Activation.GELU, 0.9, 1e-3), ff, 1, 2))));
  }

  /**
   * Dynamic-k models (our design). Not in {@link #variants}: a token's K depends on the attention
   * of the queries after it, so an earlier position's output depends on later tokens of the chunk
   * (through K only); the causality test would (rightly) fail.
   */
  static Stream<Arguments> dynamicKVariants() {
    return Stream.of(
        Arguments.of("dynamic-k switchhead", small(new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0, AttentionK.ceil()), new DenseFeedForwardConfig(24))),
        Arguments.of("dynamic-k switchall xl", small(new SwitchHeadConfig(2, 3, 2, 8, Positional.XL, 0, AttentionK.budget(1.5)),
            new SigmaMoeConfig(4, 6, 2, 0, 1e-3, AttentionK.ceil()))),
        Arguments.of("dense attention, dynamic-k sigma-moe", small(new DenseAttentionConfig(3, 8, Positional.ROPE),
            new SigmaMoeConfig(4, 6, 2, 0, 1e-3, AttentionK.budget(1.5)))));
  }

  /** An EVAL model with the given seed, built once, run on any [1, T] tokens. */
  private static final class Eval implements AutoCloseable {
    private final Graph g = new Graph();
    private final Session s = new Session(g);
    private final Placeholder<TInt32> in;
    private final Operand<TFloat32> logits;

    Eval(ModelConfig c, long seed) {
      Ops tf = GraphOps.create(g);
      ParamStore store = ParamStore.variables(tf, seed);
      in = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(1, T)));
      logits = LanguageModel.apply(c, store.root(), LayerContext.eval(tf), in, List.of()).logits();
      store.initialize(s);
    }

    /** Logits [1, T, V] (flattened). */
    float[] logits(int[] tokens) {
      try (TInt32 x = Tensors.ints(Shape.of(1, T), tokens);
          Result r = s.runner().feed(in, x).fetch(logits).run()) {
        return Tensors.toFloats(r.get(0));
      }
    }

    @Override
    public void close() {
      s.close();
      g.close();
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("variants")
  void changingLaterTokensNeverChangesEarlierOutputs(String name, ModelConfig c) {
    long seed = random.nextLong();
    int[] tokens = random.ints(T, 0, VOCAB).toArray();
    try (Eval model = new Eval(c, seed)) {
      float[] base = model.logits(tokens);
      for (int t = 0; t < T - 1; t++) {
        int[] changed = tokens.clone();
        for (int later = t + 1; later < T; later++) {
          changed[later] = (tokens[later] + 1 + random.nextInt(VOCAB - 1)) % VOCAB;
        }
        float[] other = model.logits(changed);
        for (int i = 0; i < (t + 1) * VOCAB; i++) {
          assertEquals(base[i], other[i], 1e-5f, name + ": position " + i / VOCAB + " changed when tokens after " + t + " did");
        }
        boolean laterChanged = false;
        for (int i = (t + 1) * VOCAB; i < T * VOCAB; i++) {
          laterChanged |= Math.abs(base[i] - other[i]) > 1e-6f;
        }
        assertTrue(laterChanged, name + ": outputs after " + t + " should depend on their tokens");
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource({"variants", "dynamicKVariants"})
  void builtParametersMatchTheFormulaAndEveryOpHasAGradient(String name, ModelConfig c) {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      ParamStore store = ParamStore.variables(tf, 1);
      // Static batch: the sorted expert matmul needs static shapes (as XLA does).
      Placeholder<TInt32> tokens = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(2, T)));
      LanguageModel.Output<TFloat32> out = LanguageModel.apply(c, store.root(), LayerContext.train(tf, tf.constant(new long[] {1, 2})), tokens, List.of());
      assertEquals(ParameterCount.of(c).total(), store.size(), name);
      Operand<TFloat32> loss = tf.math.add(tf.math.mean(tf.nn.sparseSoftmaxCrossEntropyWithLogits(
          tf.reshape(out.logits(), tf.constant(new int[] {-1, VOCAB})), tf.reshape(tokens, tf.constant(new int[] {-1}))).loss(),
          tf.constant(0)), out.auxiliaryLoss());
      assertEquals(java.util.Set.of(), GradientCoverage.missingGradients(g, loss, store.values()), name);
    }
  }

  @Test
  void everyPresetBuildsWithTheParameterCountOfItsFormula() {
    for (String name : Presets.names()) {
      ModelConfig c = Presets.get(name);
      try (Graph g = new Graph()) {
        Ops tf = GraphOps.create(g);
        ParamStore store = ParamStore.arguments(tf);
        Placeholder<TInt32> tokens = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(1, c.context())));
        LanguageModel.apply(c, store.root(), LayerContext.eval(tf), tokens, List.of());
        assertEquals(ParameterCount.of(c).total(), store.size(), name);
      }
    }
  }

  /** GraphOps names ops without TensorFlow Java's rescans; every layer kind's graph must still be TensorFlow Java's. */
  @Test
  void everyTinyPresetBuildsTheGraphTensorFlowJavasOwnScopeBuilds() {
    for (String name : Presets.names()) {
      if (name.endsWith("-tiny") || name.endsWith("-tiny-xl")) {
        assertEquals(forwardNodes(Presets.get(name), Ops::create), forwardNodes(Presets.get(name), GraphOps::create), name);
      }
    }
  }

  private static List<NodeDef> forwardNodes(ModelConfig c, Function<Graph, Ops> ops) {
    try (Graph g = new Graph()) {
      Ops tf = ops.apply(g);
      ParamStore store = ParamStore.arguments(tf);
      Placeholder<TInt32> tokens = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(1, c.context())));
      LanguageModel.apply(c, store.root(), LayerContext.eval(tf), tokens, List.of());
      List<NodeDef> nodes = new ArrayList<>(g.toGraphDef().getNodeList());
      nodes.sort(Comparator.comparing(NodeDef::getName));
      return nodes;
    }
  }

  @Test
  void theParameterInventoryOfOneSwitchHeadLayerIsStable() {
    ModelConfig c = small(new SwitchHeadConfig(2, 3, 2, 8, Positional.XL, 0), new DenseFeedForwardConfig(24));
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      ParamStore store = ParamStore.arguments(tf);
      LanguageModel.apply(c, store.root(), LayerContext.eval(tf), tf.constant(new int[][] {{1, 2, 3, 4, 5}}), List.of());
      List<String> layer0 = new ArrayList<>();
      store.specs().stream().filter(s -> s.path().startsWith("layers/0/"))
          .forEach(s -> layer0.add(s.path() + " " + s.shape()));
      assertEquals(List.of(
          "layers/0/attention_norm/weight [16]", "layers/0/attention_norm/bias [16]",
          "layers/0/attention/q [16, 16]", "layers/0/attention/k [16, 16]", "layers/0/attention/v [6, 16, 8]",
          "layers/0/attention/o [6, 8, 16]", "layers/0/attention/sel_o [6, 16]", "layers/0/attention/sel_v [6, 16]",
          "layers/0/attention/pos_to_pk [16, 16]",
          "layers/0/ff_norm/weight [16]", "layers/0/ff_norm/bias [16]",
          "layers/0/ff/w1 [16, 24]", "layers/0/ff/b1 [24]", "layers/0/ff/w2 [24, 16]", "layers/0/ff/b2 [16]"), layer0);
    }
  }
}
