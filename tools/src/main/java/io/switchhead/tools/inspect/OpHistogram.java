package io.switchhead.tools.inspect;

import com.google.common.collect.ImmutableSortedMap;
import java.util.Iterator;
import java.util.TreeMap;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;

/**
 * How many ops of each type a built graph holds.
 *
 * @param graph which graph: "forward" or "training step"
 * @param ops all ops of the graph
 * @param byType op type to count, by type name
 */
public record OpHistogram(String graph, int ops, ImmutableSortedMap<String, Integer> byType) {

  public static OpHistogram of(String name, Graph graph) {
    TreeMap<String, Integer> counts = new TreeMap<>();
    int ops = 0;
    for (Iterator<GraphOperation> it = graph.operations(); it.hasNext(); ) {
      counts.merge(it.next().type(), 1, Integer::sum);
      ops++;
    }
    return new OpHistogram(name, ops, ImmutableSortedMap.copyOf(counts));
  }
}
