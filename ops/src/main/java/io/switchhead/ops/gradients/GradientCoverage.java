package io.switchhead.ops.gradients;

import com.google.common.collect.ImmutableSortedSet;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.types.family.TFloating;

/**
 * Finds op types on a differentiable path from a parameter to the loss that TensorFlow cannot
 * differentiate. A new op without a gradient then fails a test instead of a user's training run.
 *
 * <p>A path is differentiable where it carries floating-point tensors: an op needs a gradient if one
 * of its floating-point inputs depends on a parameter and it lies upstream of the loss. Integer and
 * boolean edges (shapes, indices, masks) carry no gradient. Nor do the inputs of a StopGradient: a
 * value computed one way and differentiated another ({@link GradientOverride}) may be computed with
 * ops that have no gradient, such as a loop.
 */
public final class GradientCoverage {

  private GradientCoverage() {}

  /** Op types that need a gradient and have none, sorted; empty if all have one. */
  public static ImmutableSortedSet<String> missingGradients(Graph graph, Operand<?> loss, List<? extends Operand<?>> params) {
    ImmutableSortedSet.Builder<String> missing = ImmutableSortedSet.naturalOrder();
    for (GraphOperation op : needingGradients(graph, loss, params)) {
      if (!CustomGradients.hasGradient(op.type())) {
        missing.add(op.type());
      }
    }
    return missing.build();
  }

  /** Op types that need a gradient between {@code params} and {@code loss}, sorted (for reports). */
  public static ImmutableSortedSet<String> opTypesOnPath(Graph graph, Operand<?> loss, List<? extends Operand<?>> params) {
    return needingGradients(graph, loss, params).stream()
        .map(GraphOperation::type)
        .collect(ImmutableSortedSet.toImmutableSortedSet(String::compareTo));
  }

  private static Set<GraphOperation> needingGradients(Graph graph, Operand<?> loss, List<? extends Operand<?>> params) {
    Set<GraphOperation> downstream = new HashSet<>(graph.subgraphFrom(Set.copyOf(params)));
    Set<GraphOperation> upstream = upstreamThroughGradients((GraphOperation) loss.op());
    Set<GraphOperation> sources = new HashSet<>();
    params.forEach(p -> sources.add((GraphOperation) p.op()));
    Set<GraphOperation> result = new HashSet<>();
    for (GraphOperation op : downstream) {
      if (upstream.contains(op) && hasDifferentiableInputFrom(op, downstream, sources)) {
        result.add(op);
      }
    }
    return result;
  }

  /** {@code loss} and the ops it reads, transitively, except through a StopGradient's input. */
  private static Set<GraphOperation> upstreamThroughGradients(GraphOperation loss) {
    Set<GraphOperation> seen = new HashSet<>(Set.of(loss));
    Deque<GraphOperation> todo = new ArrayDeque<>(List.of(loss));
    while (!todo.isEmpty()) {
      GraphOperation op = todo.pop();
      if (op.type().equals("StopGradient")) {
        continue;
      }
      for (int i = 0; i < op.numInputs(); i++) {
        GraphOperation producer = (GraphOperation) op.input(i).op();
        if (seen.add(producer)) {
          todo.push(producer);
        }
      }
    }
    return seen;
  }

  private static boolean hasDifferentiableInputFrom(GraphOperation op, Set<GraphOperation> downstream, Set<GraphOperation> sources) {
    for (int i = 0; i < op.numInputs(); i++) {
      Output<?> input = op.input(i);
      GraphOperation producer = (GraphOperation) input.op();
      if ((downstream.contains(producer) || sources.contains(producer)) && TFloating.class.isAssignableFrom(input.type())) {
        return true;
      }
    }
    return false;
  }
}
