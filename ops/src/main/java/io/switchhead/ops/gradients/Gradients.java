package io.switchhead.ops.gradients;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;

/**
 * Symbolic gradients, with the project's Java gradients installed first.
 *
 * <p>Every gradient in the project is built through here, so TensorFlow's registry is always
 * populated before {@code addGradients} walks a graph that needs it.
 */
public final class Gradients {

  private Gradients() {}

  /**
   * d y / d x for each x, summed over the elements of {@code y}. An x that {@code y} does not depend
   * on gets zeros (TensorFlow would return a null output).
   */
  public static List<Operand<?>> of(Ops tf, Operand<?> y, List<? extends Operand<?>> xs) {
    checkArgument(
        tf.scope().env() instanceof Graph, "symbolic gradients need a Graph, not eager execution");
    checkArgument(!xs.isEmpty(), "no variables to differentiate with respect to");
    CustomGradients.install();
    Graph graph = (Graph) tf.scope().env();
    Output<?>[] targets = new Output<?>[xs.size()];
    for (int i = 0; i < xs.size(); i++) {
      targets[i] = xs.get(i).asOutput();
    }
    Output<?>[] grads = graph.addGradients(y.asOutput(), targets);
    ImmutableList.Builder<Operand<?>> result = ImmutableList.builder();
    for (int i = 0; i < grads.length; i++) {
      result.add(grads[i] != null && grads[i].op() != null ? grads[i] : tf.zerosLike(xs.get(i)));
    }
    return result.build();
  }
}
