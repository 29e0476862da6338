package io.switchhead.graph.accounting;

import java.util.Iterator;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.ndarray.Shape;

/**
 * Multiply-accumulates counted from a built graph: every MatMul and BatchMatMul under a name prefix,
 * from its operand shapes. This is what the graph really computes (for the sorted expert matmul,
 * padded rows included), reported beside the paper's formulas. Build the graph with a static batch
 * (e.g. tokens of shape [1, T]) so every matmul's shape is known.
 */
public final class GraphMacs {

  private GraphMacs() {}

  /** MACs of the matmuls whose op names start with {@code prefix}. */
  public static long count(Graph graph, String prefix) {
    long total = 0;
    for (Iterator<GraphOperation> it = graph.operations(); it.hasNext(); ) {
      GraphOperation op = it.next();
      if (!op.name().startsWith(prefix)) {
        continue;
      }
      switch (op.type()) {
        case "MatMul" -> total += matMul(op);
        case "BatchMatMulV2", "BatchMatMulV3" -> total += batchMatMul(op);
        default -> { }
      }
    }
    return total;
  }

  private static long matMul(GraphOperation op) {
    Shape a = op.input(0).shape();
    Shape out = op.output(0).shape();
    boolean transposeA = op.attributes().getAttrBool("transpose_a");
    long inner = known(op, transposeA ? a.get(0) : a.get(1));
    return known(op, out.get(0)) * known(op, out.get(1)) * inner;
  }

  private static long batchMatMul(GraphOperation op) {
    Shape a = op.input(0).shape();
    Shape out = op.output(0).shape();
    boolean adjX = op.attributes().getAttrBool("adj_x");
    int r = a.numDimensions();
    long inner = known(op, adjX ? a.get(r - 2) : a.get(r - 1));
    long product = inner;
    for (int i = 0; i < out.numDimensions(); i++) {
      product *= known(op, out.get(i));
    }
    return product;
  }

  private static long known(GraphOperation op, long size) {
    if (size < 0) {
      throw new IllegalArgumentException("matmul " + op.name() + " has a dimension unknown at build time: build with a static batch");
    }
    return size;
  }
}
