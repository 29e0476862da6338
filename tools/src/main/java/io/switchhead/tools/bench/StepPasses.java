package io.switchhead.tools.bench;

import com.google.common.collect.ImmutableSet;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.Set;
import java.util.function.Function;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;

/**
 * A training step's ops on either side of its loss, in a graph whose gradients are built in the
 * graph itself: the forward pass is every op the loss depends on (through data and control inputs),
 * the backward pass every op that depends on the loss. While the forward ops run, the bytes in use
 * grow by what the forward pass keeps; a forward tensor that a backward op reads is kept until the
 * backward pass reaches it. Ops on neither side (a gradient's Shape of a forward tensor, say) run as
 * soon as their inputs are ready and keep nothing alive.
 *
 * @param forward the names of the loss's op and of every op it depends on
 * @param backward the names of every op that depends on the loss
 */
record StepPasses(ImmutableSet<String> forward, ImmutableSet<String> backward) {

  /** The passes on either side of {@code loss}. */
  static StepPasses around(Operand<?> loss) {
    GraphOperation root = (GraphOperation) loss.op();
    Set<String> forward = reach(root, op -> {
      Set<GraphOperation> next = new HashSet<>(op.controlInputs());
      op.inputs().forEach(input -> next.add((GraphOperation) input.op()));
      return next;
    });
    Set<String> backward = reach(root, op -> {
      Set<GraphOperation> next = new HashSet<>(op.controlConsumers());
      next.addAll(op.consumers());
      return next;
    });
    backward.remove(root.name());
    return new StepPasses(ImmutableSet.copyOf(forward), ImmutableSet.copyOf(backward));
  }

  /** The names of {@code root} and of every op {@code next} leads to from it. */
  private static Set<String> reach(GraphOperation root, Function<GraphOperation, Set<GraphOperation>> next) {
    Set<String> seen = new HashSet<>();
    Deque<GraphOperation> pending = new ArrayDeque<>();
    seen.add(root.name());
    pending.push(root);
    while (!pending.isEmpty()) {
      for (GraphOperation n : next.apply(pending.pop())) {
        if (seen.add(n.name())) {
          pending.push(n);
        }
      }
    }
    return seen;
  }
}
