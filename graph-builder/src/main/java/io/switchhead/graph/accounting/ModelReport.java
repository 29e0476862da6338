package io.switchhead.graph.accounting;

import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.model.ForwardGraph;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.GraphOps;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The cost of a model config: parameters (formula, and counted in a built graph), and per attention
 * layer the paper's MACs and memory beside the MACs of the matmuls the built graph really runs for one
 * sequence (with the XL memory when the model has one), built with static shapes as under XLA, so the
 * block padding of the sorted expert matmul is included.
 */
public record ModelReport(
    long parameters, long builtParameters, long attentionParameters, double paperMacs, double paperMemoryFloats, long graphMacs) {

  public static ModelReport of(ModelConfig c) {
    try (Graph g = new Graph()) {
      ParamStore store = buildForCounting(c, GraphOps.create(g));
      ParameterCount count = ParameterCount.of(c);
      return new ModelReport(count.total(), store.size(), count.attention(),
          AttentionCost.paperMacs(c.attention(), c.dModel(), c.context()),
          AttentionCost.paperMemoryFloats(c.attention(), c.context()),
          GraphMacs.count(g, "layers/0/attention/"));
    }
  }

  /**
   * Builds the model for one sequence (with the XL memory when the model has one) into the graph of
   * {@code tf}, with static shapes so every matmul and tensor can be counted (the padded blocks
   * included), parameters as arguments: what this report and the inspection tool count.
   */
  public static ParamStore buildForCounting(ModelConfig c, Ops tf) {
    ParamStore store = ParamStore.arguments(tf);
    Placeholder<TInt32> tokens = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(1, c.context())));
    List<Operand<TFloat32>> memories = new ArrayList<>();
    if (c.hasMemory()) {
      for (int i = 0; i < c.layers(); i++) {
        memories.add(tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(1, c.context(), c.dModel()))));
      }
    }
    ForwardGraph.build(c, store, LayerContext.eval(tf).withStaticShapes(), ForwardGraph.Inputs.tokens(tokens).withMemories(memories));
    return store;
  }
}
