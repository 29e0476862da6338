package io.switchhead.graph.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.gradients.Gradients;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;

/**
 * What LayerNorm's backward keeps (its values are checked against finite differences in
 * {@link LayerGradientTest}): the normalised input, not also the centred one.
 */
class LayerNormTest {

  @Test
  void theBackwardReadsTheNormalisedInputNotTheCentredOne() {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      ParamStore store = ParamStore.variables(tf, 1);
      Operand<TFloat32> x = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(2, 3, 8)));
      var norm = store.root().child("norm");
      Operand<TFloat32> y = LayerNorm.apply(norm, norm.ops(), x, 8);
      Gradients.of(tf, tf.reduceSum(tf.math.square(y), tf.constant(new int[] {0, 1, 2})), List.of(x));
      List<GraphOperation> centred = new ArrayList<>();
      g.operations().forEachRemaining(op -> {
        if (op.type().equals("Sub") && op.name().startsWith("norm/")) {
          centred.add((GraphOperation) op);
        }
      });
      assertEquals(1, centred.size(), "the forward's centring: " + centred);
      centred.get(0).consumers().forEach(c -> assertTrue(!c.name().startsWith("gradients"),
          "the centred input is read by the backward's " + c.name()));
    }
  }
}
