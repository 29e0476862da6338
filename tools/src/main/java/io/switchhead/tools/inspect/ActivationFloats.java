package io.switchhead.tools.inspect;

import java.util.Iterator;
import java.util.Set;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.family.TFloating;

/**
 * The floats of every intermediate tensor a built layer computes, counted from a graph built with
 * static shapes: the exact side of the paper's activation-memory formula. It is an upper bound on
 * what a step keeps for the backward pass (TensorFlow frees what no gradient needs), and counts
 * neither inputs and parameters (placeholders), constants, nor the ops that only relabel a buffer.
 */
final class ActivationFloats {

  /** Ops whose output is their input under another shape or name: no new memory. */
  private static final Set<String> NOT_NEW = Set.of("Placeholder", "Const", "Reshape", "Identity", "ExpandDims", "Squeeze",
      "Shape", "StopGradient", "NoOp",
      // A custom gradient's forward is an IdentityN of its inputs.
      "IdentityN");

  private ActivationFloats() {}

  static long count(Graph graph, String prefix) {
    long total = 0;
    for (Iterator<GraphOperation> it = graph.operations(); it.hasNext(); ) {
      GraphOperation op = it.next();
      if (!op.name().startsWith(prefix) || NOT_NEW.contains(op.type())) {
        continue;
      }
      for (int i = 0; i < op.numOutputs(); i++) {
        Shape shape = op.output(i).shape();
        if (TFloating.class.isAssignableFrom(op.output(i).type()) && !shape.isUnknown() && !shape.hasUnknownDimension()) {
          total += shape.size();
        }
      }
    }
    return total;
  }
}
