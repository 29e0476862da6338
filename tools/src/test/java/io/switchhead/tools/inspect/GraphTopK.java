package io.switchhead.tools.inspect;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.model.ForwardGraph;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.graph.train.Checkpoints;
import io.switchhead.graph.train.SavedVariables;
import io.switchhead.graph.train.VerifiedCheckpoint;
import io.switchhead.ops.GraphOps;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.function.Function;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.StdArrays;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * An independent count of a run's expert choices for the routing tests: the indices output of every
 * selection's TopKV2 op, found by type and name in a graph built here, counted per head. It shares
 * none of the inspection's path from the selection to the numbers (head offsets, ExpertUsage, the
 * recorder's windows): it pads the last window with 'z' instead of a space, and counts in place.
 * PEER's choices it recomputes by brute force from the retrieval's sub-key scores.
 */
final class GraphTopK {

  private GraphTopK() {}

  /** Per selection in graph order, per head, per expert: how often the top-k chose it over {@code text}. */
  static List<long[][]> counts(Path run, byte[] text) {
    List<long[][]> counts = new ArrayList<>();
    List<Integer> experts = new ArrayList<>();
    windows(run, text, graph -> {
      List<Output<?>> topK = new ArrayList<>();
      graph.operations().forEachRemaining(op -> {
        if (op.type().equals("TopKV2") && op.name().contains("expertSelection")) {
          topK.add(op.output(1)); // [N, H, k] in [0, E)
          experts.add((int) op.input(0).shape().get(2)); // the scores [N, H, E]
        }
      });
      return topK;
    }, (real, context, r) -> {
      for (int s = 0; s < r.size(); s++) {
        TInt32 chosen = (TInt32) r.get(s);
        long[] dims = chosen.shape().asArray();
        if (counts.size() == s) {
          counts.add(new long[(int) dims[1]][experts.get(s)]);
        }
        for (int n = 0; n < real; n++) {
          for (int h = 0; h < dims[1]; h++) {
            for (int j = 0; j < dims[2]; j++) {
              counts.get(s)[h][chosen.getInt(n, h, j)]++;
            }
          }
        }
      }
    });
    return counts;
  }

  /**
   * PEER's choices by brute force, for a model with one PEER layer: the two sub-key score matrices
   * of its product-key retrieval ([tokens * h, n] each, found as MatMuls in its productKeys scope),
   * and per query the top {@code k} of all n^2 sums, counted per expert id a*n + b, heads together.
   */
  static long[] peerCounts(Path run, byte[] text, int k) {
    long[][] counts = new long[1][];
    windows(run, text, graph -> {
      List<Output<?>> scores = new ArrayList<>();
      graph.operations().forEachRemaining(op -> {
        if (op.type().equals("MatMul") && op.name().contains("productKeys")) {
          scores.add(op.output(0));
        }
      });
      assertEquals(2, scores.size(), "the sub-key scores of one PEER layer run in one chunk");
      return scores;
    }, (real, context, r) -> {
      TFloat32 s1 = (TFloat32) r.get(0);
      TFloat32 s2 = (TFloat32) r.get(1);
      int rows = (int) s1.shape().get(0);
      int n = (int) s1.shape().get(1);
      int heads = rows / context;
      if (counts[0] == null) {
        counts[0] = new long[n * n];
      }
      for (int row = 0; row < real * heads; row++) {
        int at = row;
        Integer[] ids = new Integer[n * n];
        Arrays.setAll(ids, id -> id);
        Arrays.sort(ids, Comparator.comparingDouble((Integer id) -> -(s1.getFloat(at, id / n) + s2.getFloat(at, id % n))));
        for (int j = 0; j < k; j++) {
          counts[0][ids[j]]++;
        }
      }
    });
    return counts[0];
  }

  /** What {@link #windows} hands on per window: its real tokens (the rest is padding), the context, the fetches. */
  @FunctionalInterface
  private interface Window {
    void accept(int real, int context, Result r);
  }

  /**
   * Runs the checkpoint's model (evaluation) over {@code text} in windows of its context, the last
   * padded with 'z'; per window, fetches what {@code fetches} picks from the graph and hands the
   * result and the window's count of real tokens to {@code perWindow}.
   */
  private static void windows(Path run, byte[] text, Function<Graph, List<Output<?>>> fetches, Window perWindow) {
    VerifiedCheckpoint checkpoint = Checkpoints.latestVerified(run, w -> {});
    ModelConfig model = checkpoint.state().model();
    int t = model.context();
    try (Graph graph = new Graph()) {
      Ops tf = GraphOps.create(graph);
      ParamStore store = ParamStore.variables(tf, 0);
      Placeholder<TInt32> tokens = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(1, t)));
      ForwardGraph.build(model, store, LayerContext.eval(tf), ForwardGraph.Inputs.tokens(tokens));
      List<Output<?>> fetched = fetches.apply(graph);
      try (Session session = new Session(graph)) {
        checkpoint.restoreParameters(session, SavedVariables.of(graph));
        for (int start = 0; start < text.length; start += t) {
          int[][] window = new int[1][t];
          for (int i = 0; i < t; i++) {
            window[0][i] = start + i < text.length ? text[start + i] & 0xff : 'z';
          }
          Session.Runner runner = session.runner();
          fetched.forEach(runner::fetch);
          try (TInt32 in = TInt32.tensorOf(StdArrays.ndCopyOf(window)); Result r = runner.feed(tokens, in).run()) {
            perWindow.accept(Math.min(t, text.length - start), t, r);
          }
        }
      }
    }
  }
}
