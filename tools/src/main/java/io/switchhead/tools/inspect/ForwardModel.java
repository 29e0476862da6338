package io.switchhead.tools.inspect;

import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.model.ForwardGraph;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.GraphOps;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TInt32;

/**
 * The model's forward graph as evaluation builds it (parameters as variables, one sequence of tokens
 * named {@code tokens}): what the op histogram, the XLA report, the pictures and TensorBoard show.
 *
 * @param logits the op whose output is the logits [1, T, V]; the picture keeps the ops it depends on
 */
record ForwardModel(Graph graph, GraphOperation logits) implements AutoCloseable {

  static ForwardModel build(ModelConfig c) {
    Graph g = new Graph();
    Ops tf = GraphOps.create(g);
    Placeholder<TInt32> tokens = tf.withName("tokens").placeholder(TInt32.class, Placeholder.shape(Shape.of(1, c.context())));
    ForwardGraph.Output out = ForwardGraph.build(c, ParamStore.variables(tf, 0), LayerContext.eval(tf), ForwardGraph.Inputs.tokens(tokens));
    return new ForwardModel(g, (GraphOperation) out.logits().op());
  }

  @Override
  public void close() {
    graph.close();
  }
}
