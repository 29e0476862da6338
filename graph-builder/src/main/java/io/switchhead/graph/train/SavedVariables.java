package io.switchhead.graph.train;

import com.google.common.collect.ImmutableSortedMap;
import io.switchhead.graph.model.MemoryState;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.OperationAttributeInspector;

/**
 * The variables a graph saves and restores (every VariableV2, as TensorFlow Java's Session.save and
 * restore take them), checked against a checkpoint's tensors before a restore. TensorFlow restores
 * a graph with fewer variables than the checkpoint without a word (a model of 3 layers from a
 * checkpoint of 4), and fails on a missing or reshaped one with a stack trace that names no
 * checkpoint; these checks name the checkpoint and the first differences instead.
 */
public final class SavedVariables {

  /** How many differences a refusal lists. */
  private static final int SHOWN = 3;

  private SavedVariables() {}

  /** Every variable of {@code graph} by name, with its type and shape. */
  public static ImmutableSortedMap<String, VariableType> of(Graph graph) {
    ImmutableSortedMap.Builder<String, VariableType> variables = ImmutableSortedMap.naturalOrder();
    for (Iterator<GraphOperation> ops = graph.operations(); ops.hasNext(); ) {
      GraphOperation op = ops.next();
      if (op.type().equals("VariableV2")) {
        // The attributes, not the output: a VariableV2's output is a reference type (DT_FLOAT_REF).
        OperationAttributeInspector attributes = op.attributes();
        variables.put(op.name(), new VariableType(attributes.getAttrType("dtype"), attributes.getAttrShape("shape")));
      }
    }
    return variables.buildOrThrow();
  }

  /**
   * A training graph restores everything: the checkpoint must hold exactly its variables.
   *
   * @throws IllegalArgumentException naming {@code checkpoint} and the first differences
   */
  public static void requireExactly(Map<String, VariableType> graph, CheckpointIndex index, String checkpoint) {
    require(graph, index, checkpoint, false);
  }

  /**
   * A forward-only graph (generation, export) restores the parameters: the checkpoint must hold
   * them, and besides them only their Adam slots and XL memories.
   *
   * @throws IllegalArgumentException naming {@code checkpoint} and the first differences
   */
  public static void requireParameters(Map<String, VariableType> graph, CheckpointIndex index, String checkpoint) {
    require(graph, index, checkpoint, true);
  }

  private static void require(Map<String, VariableType> graph, CheckpointIndex index, String checkpoint, boolean parametersOnly) {
    // By name, each with what differs; shown parameters first, as their slots differ with them.
    Map<String, String> differences = new TreeMap<>();
    graph.forEach((name, type) -> {
      CheckpointIndex.Tensor saved = index.tensors().get(name);
      if (saved == null) {
        differences.put(name, name + " (" + type + ") is not in the checkpoint");
      } else if (!saved.type().equals(type)) {
        differences.put(name, name + " is " + type + " in the model, " + saved.type() + " in the checkpoint");
      }
    });
    index.tensors().forEach((name, saved) -> {
      if (!graph.containsKey(name) && !(parametersOnly && isStateOf(name, graph))) {
        differences.put(name, name + " (" + saved.type() + ") is in the checkpoint, not in the model");
      }
    });
    if (!differences.isEmpty()) {
      List<String> shown = differences.entrySet().stream()
          .sorted(Comparator.comparing((Map.Entry<String, String> e) -> isTrainingState(e.getKey())))
          .limit(SHOWN).map(Map.Entry::getValue).toList();
      throw new IllegalArgumentException(String.format(
          "checkpoint %s does not hold the variables of the model its state describes (%d in the model, %d saved; "
              + "%d differences: %s%s): was its state.json edited or copied from another run?",
          checkpoint, graph.size(), index.tensors().size(), differences.size(), String.join("; ", shown),
          differences.size() > SHOWN ? "; ..." : ""));
    }
  }

  /** An optimizer slot of one of the parameters, or an XL memory: saved by training only. */
  private static boolean isStateOf(String name, Map<String, VariableType> parameters) {
    return name.startsWith(MemoryState.PREFIX) || (isTrainingState(name) && parameters.containsKey(name.substring(0, name.lastIndexOf('/'))));
  }

  /** Named as an Adam slot or an XL memory. */
  private static boolean isTrainingState(String name) {
    return name.startsWith(MemoryState.PREFIX) || AdamW.SLOTS.stream().anyMatch(slot -> name.endsWith("/" + slot));
  }
}
