package io.switchhead.ops.gradients;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkState;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.exceptions.TFInvalidArgumentException;
import org.tensorflow.op.Ops;
import org.tensorflow.types.family.TType;

/**
 * Per-node custom gradients, the graph-mode {@code tf.custom_gradient}: a subgraph whose TensorFlow
 * gradient would be slow gets a hand-written one.
 *
 * <p>TensorFlow Java can only register gradients per op type, and cannot override a C++ one. So the
 * subgraph's result is routed through an {@code IdentityN} node (which has no C++ gradient) tagged
 * with the attribute {@value #NAME_ATTR}; the project's {@code IdentityN} gradient looks the tag up
 * here and calls the named {@link NodeGradient}. Untagged {@code IdentityN} nodes pass gradients
 * straight through, which is their true gradient. The tag's companion attribute {@value
 * #CONFIG_ATTR} carries static sizes as a string (the project's gradients write an {@link
 * io.switchhead.ops.AttrRecord}), so a gradient needs no captured state (nothing here holds on to
 * a graph).
 *
 * <p>The caller builds {@code IdentityN(value, differentiable inputs..., saved tensors...)} where
 * {@code value} is the subgraph's result computed on the same inputs, and every input that must not
 * be differentiated (the value itself, saved intermediates, int tensors) is the direct output of a
 * {@code StopGradient}: the Java gradient returns zeros for those (TensorFlow Java cannot return
 * "no gradient"), and the StopGradient ends them there instead of sending them into ops that may
 * have no gradient at all.
 */
public final class GradientOverride {

  /** Node attribute naming the gradient; the leading underscore lets TensorFlow accept it on any op. */
  public static final String NAME_ATTR = "_switchhead_gradient";

  /** Node attribute with the gradient's static configuration. */
  public static final String CONFIG_ATTR = "_switchhead_gradient_config";

  /** A gradient for one tagged IdentityN node. Same rules as {@link OpGradient}: no Operand.shape(). */
  @FunctionalInterface
  public interface NodeGradient {
    /**
     * @param node the tagged IdentityN; {@code node.input(i)} is the i-th tensor passed to {@link #identity}
     * @param outputGradients one per input (IdentityN output i passes input i through)
     * @param config the string given to {@link #identity}
     * @return one gradient per input; null where there is none
     */
    List<Operand<?>> inputGradients(Ops tf, GraphOperation node, List<Output<?>> outputGradients, String config);
  }

  /**
   * The defined gradients, keyed by the name a tagged IdentityN carries. Kept here rather than in
   * {@link CustomGradients}, which reaches them through the IdentityN gradient: the arrows between
   * the two classes then point one way.
   */
  private static final Map<String, NodeGradient> NODE_GRADIENTS = new LinkedHashMap<>();

  private GradientOverride() {}

  /**
   * Defines the gradient called {@code name}. Defining the same name again with a gradient of the
   * same class is a no-op (class initialisers may run it), with another class an error.
   */
  public static synchronized void define(String name, NodeGradient gradient) {
    NodeGradient previous = NODE_GRADIENTS.putIfAbsent(name, gradient);
    checkArgument(
        previous == null || previous.getClass().equals(gradient.getClass()),
        "gradient %s is already defined by %s",
        name,
        previous == null ? null : previous.getClass().getName());
  }

  /** The gradient called {@code name}, or null. */
  private static synchronized NodeGradient nodeGradient(String name) {
    return NODE_GRADIENTS.get(name);
  }

  /**
   * {@code IdentityN(inputs)} tagged with the gradient {@code name} (defined before with
   * {@link #define}); output i is input i.
   */
  public static GraphOperation identity(Ops tf, String name, String config, List<? extends Operand<?>> inputs) {
    checkArgument(nodeGradient(name) != null, "no gradient named %s is defined", name);
    Output<?>[] outputs = new Output<?>[inputs.size()];
    for (int i = 0; i < outputs.length; i++) {
      outputs[i] = inputs.get(i).asOutput();
    }
    return (GraphOperation)
        tf.scope().opBuilder("IdentityN", "CustomGradient")
            .addInputList(outputs)
            .setAttr(NAME_ATTR, name)
            .setAttr(CONFIG_ATTR, config)
            .build();
  }

  /**
   * {@code value} with the gradient {@code name}: {@code IdentityN(StopGradient(value), inputs...)}
   * tagged with it, and its output 0, which is {@code value}. The gradient gets the node, whose input
   * 0 is the value and input i + 1 is {@code inputs.get(i)}; the caller passes through StopGradient
   * every one of those that must not be differentiated.
   */
  @SuppressWarnings("unchecked")
  public static <T extends TType> Operand<T> withGradient(Ops tf, String name, String config, Operand<T> value,
      List<? extends Operand<?>> inputs) {
    List<Operand<?>> all = new ArrayList<>();
    all.add(tf.stopGradient(value));
    all.addAll(inputs);
    return (Operand<T>) (Operand<?>) identity(tf, name, config, all).output(0);
  }

  /** The gradient of an IdentityN node: its tagged gradient, or pass-through. */
  static List<Operand<?>> identityNGradient(Ops tf, GraphOperation op, List<Output<?>> outputGradients) {
    String name;
    try {
      name = op.attributes().getAttrString(NAME_ATTR);
    } catch (TFInvalidArgumentException untagged) {
      // TensorFlow Java has no "has attribute": a missing one throws.
      return new ArrayList<>(outputGradients); // null entries become zeros in CustomGradients
    }
    NodeGradient gradient = nodeGradient(name);
    checkState(gradient != null, "IdentityN %s is tagged with undefined gradient %s", op.name(), name);
    return gradient.inputGradients(tf, op, outputGradients, op.attributes().getAttrString(CONFIG_ATTR));
  }
}
