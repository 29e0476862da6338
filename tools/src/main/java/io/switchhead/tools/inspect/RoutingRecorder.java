package io.switchhead.tools.inspect;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.data.ByteTokens;
import io.switchhead.graph.layers.ExpertUsage;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.model.ForwardGraph;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.graph.train.SavedVariables;
import io.switchhead.graph.train.VerifiedCheckpoint;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TInt32;

/**
 * Runs a checkpoint's model (evaluation mode) over a text and records every expert selection's
 * choices for every token.
 *
 * <p>The text runs in consecutive windows of the model's context, one sequence per run. The last
 * window is padded with spaces: the model is causal and every selection reads its own token's
 * row only, so the padding changes no real token's choice, and its rows are dropped. An XL model
 * runs each window as a first chunk (no memory), so each choice depends on its own window only and
 * the value selection chooses once per token, as the output selection does.
 */
final class RoutingRecorder {

  private static final int PAD = ' ';

  private RoutingRecorder() {}

  static RoutingTrace record(VerifiedCheckpoint checkpoint, ByteTokens text) {
    ModelConfig model = checkpoint.state().model();
    checkArgument(model.vocabSize() >= ByteTokens.VOCABULARY,
        "the model of %s reads token ids below %s; a text's bytes need %s", checkpoint.name(), model.vocabSize(), ByteTokens.VOCABULARY);
    int t = model.context();
    int[] tokens = new int[Math.toIntExact(text.length())];
    Arrays.setAll(tokens, text::get);
    try (Graph graph = new Graph()) {
      Ops tf = GraphOps.create(graph);
      ParamStore store = ParamStore.variables(tf, 0);
      Placeholder<TInt32> window = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(1, t)));
      ImmutableList<ExpertUsage> usage = ForwardGraph.build(model, store, LayerContext.eval(tf), ForwardGraph.Inputs.tokens(window)).usage();
      checkArgument(!usage.isEmpty(), "the model of %s has no expert selection (dense attention and feed-forward, or one expert per head)",
          checkpoint.name());
      store.freeze();
      List<int[]> ids = new ArrayList<>();
      usage.forEach(u -> ids.add(new int[tokens.length * u.selection().heads() * u.selection().k()]));
      try (Session session = new Session(graph)) {
        checkpoint.restoreParameters(session, SavedVariables.of(graph));
        for (int start = 0; start < tokens.length; start += t) {
          int real = Math.min(t, tokens.length - start);
          int[] windowTokens = new int[t];
          Arrays.fill(windowTokens, PAD);
          System.arraycopy(tokens, start, windowTokens, 0, real);
          Session.Runner runner = session.runner();
          usage.forEach(u -> runner.fetch(u.ids()));
          try (TInt32 in = Tensors.ints(Shape.of(1, t), windowTokens); Result r = runner.feed(window, in).run()) {
            for (int i = 0; i < usage.size(); i++) {
              int slots = usage.get(i).selection().heads() * usage.get(i).selection().k();
              System.arraycopy(Tensors.toInts(r.get(i)), 0, ids.get(i), start * slots, real * slots);
            }
          }
        }
      }
      ImmutableList.Builder<SelectionTrace> traces = ImmutableList.builder();
      for (int i = 0; i < usage.size(); i++) {
        SelectionSite site = SelectionSite.of(usage.get(i).name(), usage.get(i).selection());
        traces.add(new SelectionTrace(site, site.ids(ids.get(i))));
      }
      return new RoutingTrace(tokens, traces.build());
    }
  }
}
