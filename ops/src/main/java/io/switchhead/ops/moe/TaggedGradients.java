package io.switchhead.ops.moe;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;

/**
 * What the hand-written gradients of the conditional matmuls share: each layout tags its value
 * with a node whose inputs are x, w, the gates and the tensors its backward saved, listed by the
 * layout's own Input enum.
 */
final class TaggedGradients {

  private TaggedGradients() {}

  /** The tagged node's input {@code which}. */
  static Output<?> input(GraphOperation node, Enum<?> which) {
    return node.input(which.ordinal());
  }

  /** The node's input gradients: dx, dw and dGates at x, w and gates; none for the saved tensors. */
  static List<Operand<?>> of(
      Enum<?>[] inputs, Enum<?> x, Operand<?> dx, Enum<?> w, Operand<?> dw, Enum<?> gates, Operand<?> dGates) {
    List<Operand<?>> grads = new ArrayList<>(Collections.nCopies(inputs.length, null));
    grads.set(x.ordinal(), dx);
    grads.set(w.ordinal(), dw);
    grads.set(gates.ordinal(), dGates);
    return grads;
  }
}
