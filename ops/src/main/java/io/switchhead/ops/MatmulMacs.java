package io.switchhead.ops;

import java.util.Iterator;
import org.tensorflow.GraphOperation;
import org.tensorflow.ndarray.Shape;

/**
 * Multiply-accumulates of a MatMul or BatchMatMul op, from its static operand shapes. Shared by the
 * graph accounting and by {@link io.switchhead.ops.control.CountedLoop}, which counts its body once.
 */
public final class MatmulMacs {

  private MatmulMacs() {}

  /** MACs of the matmuls among {@code ops}. */
  public static long count(Iterator<GraphOperation> ops) {
    long total = 0;
    while (ops.hasNext()) {
      total += of(ops.next());
    }
    return total;
  }

  /** MACs of one op: 0 unless it is a matmul. */
  public static long of(GraphOperation op) {
    return switch (op.type()) {
      case "MatMul" -> matMul(op);
      case "BatchMatMulV2", "BatchMatMulV3" -> batchMatMul(op);
      default -> 0;
    };
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
