package io.switchhead.graph.model;

import io.switchhead.ops.Tensors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Predicate;
import org.tensorflow.Graph;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * How clearly a graph's routers chose: over every top-k the graph runs (expert selections, softmax
 * routing, product keys), the smallest gap between a row's k-th and (k+1)-th score, relative to
 * the k-th. Routing is discrete: two computations of the same float32 scores in different orders
 * (a full window and a cached one) differ by about 1e-7 relative, which flips a choice whose gap
 * is as small, and the outputs then differ by a whole expert. Tests comparing such computations
 * draw inputs whose margin is far above that.
 */
final class RoutingMargin {

  private RoutingMargin() {}

  /**
   * @param ops the names of the ops to look at (one of several graphs sharing {@code g})
   * @param runner fed with what those ops need
   * @return the smallest relative gap, or +infinity where no top-k has more than k scores (or there is none)
   */
  static double of(Graph g, Predicate<String> ops, Session.Runner runner) {
    List<Output<?>> scores = new ArrayList<>();
    List<Output<?>> ks = new ArrayList<>();
    g.operations().forEachRemaining(op -> {
      // Scores in float32; a top-k of ints (index bookkeeping, no scores) has no near-ties to speak of.
      if (op.type().equals("TopKV2") && ops.test(op.name()) && op.input(0).type() == TFloat32.class) {
        scores.add(op.input(0));
        ks.add(op.input(1));
      }
    });
    if (scores.isEmpty()) {
      return Double.POSITIVE_INFINITY; // no router: nothing to run
    }
    scores.forEach(runner::fetch);
    ks.forEach(runner::fetch);
    double margin = Double.POSITIVE_INFINITY;
    try (Result r = runner.run()) {
      for (int i = 0; i < scores.size(); i++) {
        float[] values = Tensors.toFloats(r.get(i));
        int k = ((TInt32) r.get(scores.size() + i)).getInt();
        org.tensorflow.ndarray.Shape shape = r.get(i).shape();
        int n = (int) shape.get(shape.numDimensions() - 1);
        for (int row = 0; n > k && row < values.length / n; row++) {
          float[] sorted = Arrays.copyOfRange(values, row * n, (row + 1) * n);
          Arrays.sort(sorted);
          float kth = sorted[n - k];
          float next = sorted[n - k - 1];
          if (Float.isFinite(kth) && Float.isFinite(next)) {
            margin = Math.min(margin, (kth - next) / Math.max(1, Math.abs(kth)));
          }
        }
      }
    }
    return margin;
  }
}
