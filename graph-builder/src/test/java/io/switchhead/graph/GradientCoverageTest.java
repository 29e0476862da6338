package io.switchhead.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.params.Initializer;
import io.switchhead.graph.params.ParamScope;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.gradients.GradientCoverage;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.nn.TopK;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Walks the ops between the parameters and the loss of a small routed language-model graph and
 * proves each can be differentiated, so an op without a gradient fails here, not in a user's run.
 */
class GradientCoverageTest {

  /** Embedding, sigmoid/top-k expert routing with gathered expert weights, sparse cross-entropy. */
  private static Operand<TFloat32> routedLoss(Ops tf, ParamScope root) {
    int vocab = 11;
    int d = 6;
    int experts = 4;
    Operand<TInt32> tokens = tf.constant(new int[] {1, 5, 7, 2, 9});
    Operand<TInt32> targets = tf.constant(new int[] {5, 7, 2, 9, 3});
    Operand<TFloat32> embedding = root.param("embedding", Shape.of(vocab, d), Initializer.normal(1));
    Operand<TFloat32> x = tf.gather(embedding, tokens, tf.constant(0)); // [N, D]
    Operand<TFloat32> selection = root.param("sel", Shape.of(experts, d), Initializer.rowRenormalized(Initializer.normal(0.3)));
    Operand<TFloat32> scores = tf.math.sigmoid(tf.linalg.matMul(x, selection, org.tensorflow.op.linalg.MatMul.transposeB(true)));
    TopK<TFloat32, TInt32> top = tf.nn.topK(scores, tf.constant(1), new TopK.Options[0]);
    Operand<TFloat32> experts3 = root.param("experts", Shape.of(experts, d, vocab), Initializer.normal(0.3));
    Operand<TInt32> chosen = tf.reshape(top.indices(), tf.constant(new int[] {-1}));
    Operand<TFloat32> w = tf.gather(experts3, chosen, tf.constant(0)); // [N, D, V]
    Operand<TFloat32> logits =
        tf.math.mul(tf.reshape(tf.train.batchMatMul(tf.expandDims(x, tf.constant(1)), w, TFloat32.class), tf.constant(new int[] {-1, vocab})), top.values());
    return tf.math.mean(tf.nn.sparseSoftmaxCrossEntropyWithLogits(logits, targets).loss(), tf.constant(0));
  }

  @Test
  void everyOpOfARoutedTrainingGraphHasAGradient() {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      ParamStore store = ParamStore.variables(tf, 7);
      Operand<TFloat32> loss = routedLoss(tf, store.root());
      Set<String> onPath = GradientCoverage.opTypesOnPath(g, loss, store.values());
      // The walk must see the ops that need the project's Java gradients, or it proves nothing.
      assertTrue(onPath.containsAll(Set.of("TopKV2", "SparseSoftmaxCrossEntropyWithLogits", "GatherV2", "BatchMatMulV3")), onPath.toString());
      assertEquals(Set.of(), GradientCoverage.missingGradients(g, loss, store.values()));
    }
  }

  @Test
  void anOpWithoutAGradientOnThePathIsReported() {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      ParamStore store = ParamStore.variables(tf, 7);
      Operand<TFloat32> w = store.root().param("w", Shape.of(3), Initializer.normal(1));
      Operand<TFloat32> unrelated = tf.math.cumprod(tf.constant(new float[] {1, 2, 3}), tf.constant(0));
      Operand<TFloat32> loss = tf.reduceSum(tf.math.add(tf.math.cumprod(w, tf.constant(0)), unrelated), tf.constant(0));
      // Cumprod on the path from w is reported once; the Cumprod of a constant is off the path.
      assertEquals(Set.of("Cumprod"), GradientCoverage.missingGradients(g, loss, store.values()));
    }
  }
}
