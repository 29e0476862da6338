package io.switchhead.graph.layers;

import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelDims;
import io.switchhead.graph.params.Initializer;
import io.switchhead.graph.params.ParamScope;
import io.switchhead.ops.Dropout;
import io.switchhead.ops.Relu;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.family.TFloating;

/** ReLU feed-forward: {@code w2(dropout(relu(x w1 + b1))) + b2}. Parameters w1 [D, F], b1, w2 [F, D], b2. */
public final class DenseFeedForward {

  private DenseFeedForward() {}

  /** @param x [B, T, D] */
  public static <T extends TFloating> Operand<T> apply(DenseFeedForwardConfig c, ModelDims dims, ParamScope p, LayerContext ctx, Operand<T> x) {
    Ops tf = p.ops();
    int d = dims.dModel();
    double initScale = dims.initScale();
    int steps = Layers.steps(x);
    int f = c.hidden();
    Class<T> type = x.type();
    Operand<T> w1 = p.param("w1", Shape.of(d, f), type, Initializer.normal(initScale / Math.sqrt(d)));
    Operand<T> b1 = p.param("b1", Shape.of(f), type, Initializer.zeros());
    Operand<T> w2 = p.param("w2", Shape.of(f, d), type, Initializer.normal(initScale / Math.sqrt(f)));
    Operand<T> b2 = p.param("b2", Shape.of(d), type, Initializer.zeros());
    Operand<T> hidden = Relu.apply(tf, tf.math.add(Heads.project(tf, x, w1, steps), b1)); // [B, T, F]
    if (ctx.training()) {
      hidden = Dropout.apply(tf, hidden, dims.dropout(), ctx.seedFor(p.path() + "/hidden_dropout"));
    }
    return tf.math.add(Heads.project(tf, hidden, w2, steps), b2);
  }
}
