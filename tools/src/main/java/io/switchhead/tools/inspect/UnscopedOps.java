package io.switchhead.tools.inspect;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;

/**
 * Places the ops built without a name scope (the model applies its embedding lookup, final norm and
 * output layer at the top level) in the box they belong to, so the picture shows data flowing from
 * the embedding through the layers to the output rather than through one box of loose ops. An op
 * joins the box of a top-level parameter it reads (embedding, final_norm, output), else that of an
 * input placed so; failing that, the box all its consumers are in. What is left (the attention mask
 * and position tables every layer shares) keeps the shared box.
 */
final class UnscopedOps {

  private UnscopedOps() {}

  /** @param chains every drawn op's box chain, in creation order; the unscoped ones are replaced */
  static void place(LinkedHashMap<GraphOperation, List<String>> chains) {
    Set<String> parameterBoxes = new HashSet<>();
    chains.forEach((op, chain) -> {
      if (op.type().equals("VariableV2") && !chain.get(0).contains("/")) {
        parameterBoxes.add(chain.get(0));
      }
    });
    Set<GraphOperation> placed = new HashSet<>();
    for (Map.Entry<GraphOperation, List<String>> e : chains.entrySet()) {
      if (!unscoped(e.getValue())) {
        continue;
      }
      List<String> parameter = null;
      List<String> inherited = null;
      for (Operand<?> in : e.getKey().inputs()) {
        GraphOperation from = (GraphOperation) in.op();
        List<String> chain = chains.get(from);
        if (chain != null && parameterBoxes.contains(chain.get(0)) && readsVariable(from) && parameter == null) {
          parameter = chain;
        } else if (chain != null && placed.contains(from) && inherited == null) {
          inherited = chain;
        }
      }
      // A parameter read wins: the output matmul reads the final norm's result and output/w.
      List<String> chosen = parameter != null ? parameter : inherited;
      if (chosen != null) {
        e.setValue(chosen);
        placed.add(e.getKey());
      }
    }
    List<GraphOperation> reversed = new ArrayList<>(chains.keySet());
    Collections.reverse(reversed);
    for (GraphOperation op : reversed) {
      if (unscoped(chains.get(op))) {
        Set<List<String>> consumers = new HashSet<>();
        op.consumers().stream().map(chains::get).filter(c -> c != null).forEach(consumers::add);
        if (consumers.size() == 1 && !unscoped(consumers.iterator().next())) {
          chains.put(op, consumers.iterator().next());
        }
      }
    }
  }

  /** A variable, or its read (the model reads every variable through an Identity). */
  private static boolean readsVariable(GraphOperation op) {
    return op.type().equals("VariableV2")
        || (op.type().equals("Identity") && ((GraphOperation) op.inputs().get(0).op()).type().equals("VariableV2"));
  }

  private static boolean unscoped(List<String> chain) {
    return chain.size() == 1 && chain.get(0).equals(ScopeGraph.UNSCOPED);
  }
}
