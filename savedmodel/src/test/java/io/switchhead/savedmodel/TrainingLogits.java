package io.switchhead.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.model.ForwardGraph;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import java.nio.file.Path;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * What a served SavedModel is checked against: the training graph's forward (static shapes,
 * evaluation mode) over a checkpoint, each row padded to the context. Shared with the end-to-end
 * tests (the tests module reads this module's test jar).
 */
public final class TrainingLogits {

  private TrainingLogits() {}

  /**
   * @param tokens [batch, time], row-major
   * @return [batch, time, vocab] logits, row-major
   */
  public static float[] of(ModelConfig model, Path checkpoint, int[] tokens, int batch, int time) {
    int t = model.context();
    int v = model.vocabSize();
    int[] window = new int[batch * t];
    for (int b = 0; b < batch; b++) {
      System.arraycopy(tokens, b * time, window, b * t, time);
    }
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      Placeholder<TInt32> in = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(batch, t)));
      Operand<TFloat32> logits =
          ForwardGraph.build(model, ParamStore.variables(tf, 0), LayerContext.eval(tf), ForwardGraph.Inputs.tokens(in)).logits();
      s.restore(checkpoint.resolve("variables").toString()); // the prefix a checkpoint directory saves its variables under
      try (TInt32 x = Tensors.ints(Shape.of(batch, t), window);
          Result r = s.runner().feed(in, x).fetch(logits).run()) {
        float[] all = Tensors.toFloats(r.get(0));
        float[] cut = new float[batch * time * v];
        for (int b = 0; b < batch; b++) {
          System.arraycopy(all, b * t * v, cut, b * time * v, time * v);
        }
        return cut;
      }
    }
  }

  /**
   * The log-softmax of each row's last position, in double precision.
   *
   * @param logits [batch, time, vocab]
   * @return [batch, vocab]
   */
  public static double[] lastLogSoftmax(float[] logits, int batch, int time, int vocab) {
    double[] out = new double[batch * vocab];
    for (int b = 0; b < batch; b++) {
      int last = (b * time + time - 1) * vocab;
      double max = Double.NEGATIVE_INFINITY;
      for (int i = 0; i < vocab; i++) {
        max = Math.max(max, logits[last + i]);
      }
      double sum = 0;
      for (int i = 0; i < vocab; i++) {
        sum += Math.exp(logits[last + i] - max);
      }
      for (int i = 0; i < vocab; i++) {
        out[b * vocab + i] = logits[last + i] - max - Math.log(sum);
      }
    }
    return out;
  }

  /** Logits equal to float32 rounding: each within {@code relative} of the wanted one (of 1, below 1). */
  public static void assertClose(float[] want, float[] got, float relative, String what) {
    assertEquals(want.length, got.length, what);
    for (int i = 0; i < want.length; i++) {
      assertEquals(want[i], got[i], relative * Math.max(1, Math.abs(want[i])), what + ", logit " + i);
    }
  }
}
