package io.switchhead.ops.gradients;

import com.google.common.collect.ImmutableSortedSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;

/**
 * Finds op types on a path from a parameter to the loss that TensorFlow cannot differentiate. A new
 * op without a gradient then fails a test instead of a user's training run.
 */
public final class GradientCoverage {

  private GradientCoverage() {}

  /** Op types between {@code params} and {@code loss} with no gradient, sorted; empty if all have one. */
  public static ImmutableSortedSet<String> missingGradients(
      Graph graph, Operand<?> loss, List<? extends Operand<?>> params) {
    Set<GraphOperation> onPath = opsOnPath(graph, loss, params);
    ImmutableSortedSet.Builder<String> missing = ImmutableSortedSet.naturalOrder();
    for (GraphOperation op : onPath) {
      if (!CustomGradients.hasGradient(op.type())) {
        missing.add(op.type());
      }
    }
    return missing.build();
  }

  /** Op types on a path from {@code params} to {@code loss}, sorted (for reports). */
  public static ImmutableSortedSet<String> opTypesOnPath(
      Graph graph, Operand<?> loss, List<? extends Operand<?>> params) {
    return opsOnPath(graph, loss, params).stream()
        .map(GraphOperation::type)
        .collect(ImmutableSortedSet.toImmutableSortedSet(String::compareTo));
  }

  private static Set<GraphOperation> opsOnPath(
      Graph graph, Operand<?> loss, List<? extends Operand<?>> params) {
    Set<GraphOperation> downstream = new HashSet<>(graph.subgraphFrom(Set.copyOf(params)));
    Set<GraphOperation> upstream = new HashSet<>(graph.subgraphTo(Set.of(loss)));
    upstream.add((GraphOperation) loss.op());
    downstream.retainAll(upstream);
    return downstream;
  }
}
