package io.switchhead.graph.accounting;

import io.switchhead.ops.MatmulMacs;
import io.switchhead.ops.control.CountedLoop;
import java.util.Iterator;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;

/**
 * Multiply-accumulates counted from a built graph: every MatMul and BatchMatMul under a name prefix,
 * from its operand shapes, and every {@link CountedLoop}'s body times its largest trip count. This
 * is what the graph computes at most (for the sorted expert matmul, the worst-case padding included;
 * a spread routing skips about half of it), reported beside the paper's formulas. Build the graph
 * with a static batch (e.g. tokens of shape [1, T]) so every matmul's shape is known.
 */
public final class GraphMacs {

  private GraphMacs() {}

  /** MACs of the matmuls and loops whose op names start with {@code prefix}. */
  public static long count(Graph graph, String prefix) {
    long total = 0;
    for (Iterator<GraphOperation> it = graph.operations(); it.hasNext(); ) {
      GraphOperation op = it.next();
      if (op.name().startsWith(prefix)) {
        total += MatmulMacs.of(op) + CountedLoop.worstCaseMacs(op);
      }
    }
    return total;
  }
}
