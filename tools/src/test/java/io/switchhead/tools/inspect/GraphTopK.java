package io.switchhead.tools.inspect;

import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.model.ForwardGraph;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.graph.train.Checkpoints;
import io.switchhead.graph.train.SavedVariables;
import io.switchhead.graph.train.VerifiedCheckpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.StdArrays;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TInt32;

/**
 * An independent count of a run's expert choices for the routing tests: the indices output of every
 * selection's TopKV2 op, found by type and name in a graph built here, counted per head. It shares
 * none of the inspection's path from the selection to the numbers (head offsets, ExpertUsage, the
 * recorder's windows): it pads the last window with 'z' instead of a space, and counts in place.
 */
final class GraphTopK {

  private GraphTopK() {}

  /** Per selection in graph order, per head, per expert: how often the top-k chose it over {@code text}. */
  static List<long[][]> counts(Path run, byte[] text) {
    VerifiedCheckpoint checkpoint = Checkpoints.latestVerified(run, w -> {});
    ModelConfig model = checkpoint.state().model();
    int t = model.context();
    try (Graph graph = new Graph()) {
      Ops tf = Ops.create(graph);
      ParamStore store = ParamStore.variables(tf, 0);
      Placeholder<TInt32> tokens = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(1, t)));
      ForwardGraph.build(model, store, LayerContext.eval(tf), ForwardGraph.Inputs.tokens(tokens));
      List<Operand<TInt32>> topK = new ArrayList<>();
      List<Integer> experts = new ArrayList<>();
      graph.operations().forEachRemaining(op -> {
        if (op.type().equals("TopKV2") && op.name().contains("expertSelection")) {
          topK.add(op.output(1)); // [N, H, k] in [0, E)
          experts.add((int) op.input(0).shape().get(2)); // the scores [N, H, E]
        }
      });
      List<long[][]> counts = new ArrayList<>();
      try (Session session = new Session(graph)) {
        checkpoint.restoreParameters(session, SavedVariables.of(graph));
        for (int start = 0; start < text.length; start += t) {
          int[][] window = new int[1][t];
          for (int i = 0; i < t; i++) {
            window[0][i] = start + i < text.length ? text[start + i] & 0xff : 'z';
          }
          Session.Runner runner = session.runner();
          topK.forEach(runner::fetch);
          try (TInt32 in = TInt32.tensorOf(StdArrays.ndCopyOf(window)); Result r = runner.feed(tokens, in).run()) {
            for (int s = 0; s < topK.size(); s++) {
              TInt32 chosen = (TInt32) r.get(s);
              long[] dims = chosen.shape().asArray();
              if (counts.size() == s) {
                counts.add(new long[(int) dims[1]][experts.get(s)]);
              }
              for (int n = 0; n < Math.min(t, text.length - start); n++) {
                for (int h = 0; h < dims[1]; h++) {
                  for (int j = 0; j < dims[2]; j++) {
                    counts.get(s)[h][chosen.getInt(n, h, j)]++;
                  }
                }
              }
            }
          }
        }
      }
      return counts;
    }
  }
}
