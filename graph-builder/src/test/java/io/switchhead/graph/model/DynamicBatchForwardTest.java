package io.switchhead.graph.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.switchhead.graph.config.AttentionConfig;
import io.switchhead.graph.config.DenseAttentionConfig;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.FeedForwardConfig;
import io.switchhead.graph.config.MhMoeConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.testing.Seeded;
import java.util.LinkedHashMap;
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
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The evaluation forward over tokens [-1, T], a batch known only at run time as a server has it,
 * gives the logits of the static-batch forward over the same parameters, for every attention and
 * feed-forward kind (the MoE layers then see a dynamic token count N).
 */
class DynamicBatchForwardTest {

  private static final int VOCAB = 13;
  private static final int T = 6;
  @Seeded private Random random;

  private static ModelConfig model(AttentionConfig attention, FeedForwardConfig feedForward) {
    return new ModelConfig(VOCAB, 16, 2, T, attention, feedForward, 0.1, 0.7);
  }

  @Test
  void aBatchKnownOnlyAtRunTimeGivesTheStaticBatchLogits() {
    SigmaMoeConfig sigmaMoe = new SigmaMoeConfig(4, 6, 2, 0.1, 1e-3);
    DenseFeedForwardConfig dense = new DenseFeedForwardConfig(12);
    List<ModelConfig> models = List.of(
        model(new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.1), sigmaMoe),
        model(new SwitchHeadConfig(2, 3, 2, 8, Positional.XL, 0.1), dense),
        model(new SwitchHeadConfig(2, 1, 1, 8, Positional.ROPE, 0), new SigmaMoeConfig(1, 6, 1, 0, 1e-3)),
        model(new DenseAttentionConfig(3, 8, Positional.ROPE), dense),
        model(new DenseAttentionConfig(3, 8, Positional.XL), sigmaMoe),
        model(new DenseAttentionConfig(3, 8, Positional.ROPE), new MhMoeConfig(4, 3, 2, 5, 0.5, 0.01, false)));
    for (ModelConfig c : models) {
      try (Graph g = new Graph();
          Session s = new Session(g)) {
        Ops tf = GraphOps.create(g);
        Placeholder<TInt32> any = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, T)));
        ParamStore store = ParamStore.variables(tf, random.nextLong());
        Operand<TFloat32> dynamic = ForwardGraph.build(c, store, LayerContext.eval(tf), ForwardGraph.Inputs.tokens(any)).logits();
        Map<String, Operand<? extends TFloating>> byPath = new LinkedHashMap<>();
        store.params().forEach(p -> byPath.put(p.spec().path(), p.value()));
        store.initialize(s);
        for (int batch : new int[] {1, 3}) {
          Ops fixed = tf.withSubScope("static_" + batch);
          Placeholder<TInt32> in = fixed.placeholder(TInt32.class, Placeholder.shape(Shape.of(batch, T)));
          Operand<TFloat32> logits =
              ForwardGraph.build(c, ParamStore.bound(fixed, byPath), LayerContext.eval(fixed), ForwardGraph.Inputs.tokens(in)).logits();
          int[] tokens = random.ints((long) batch * T, 0, VOCAB).toArray();
          try (TInt32 x = Tensors.ints(Shape.of(batch, T), tokens);
              Result r = s.runner().feed(any, x).feed(in, x).fetch(dynamic).fetch(logits).run()) {
            float[] got = Tensors.toFloats(r.get(0));
            float[] want = Tensors.toFloats(r.get(1));
            assertEquals(want.length, got.length);
            for (int i = 0; i < want.length; i++) {
              assertEquals(want[i], got[i], 1e-5f * Math.max(1, Math.abs(want[i])), c + ", batch " + batch + ", at " + i);
            }
          }
        }
      }
    }
  }
}
