package io.switchhead.ops.gradients;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedSet;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.internal.c_api.TFJ_GradFuncAdapter;
import org.tensorflow.internal.c_api.global.tensorflow;
import org.tensorflow.op.Ops;
import org.tensorflow.op.RawCustomGradient;

/**
 * The one owner of TensorFlow's process-wide custom-gradient registry.
 *
 * <p>TensorFlow Java 1.1.0 wraps every {@code TensorFlow.registerCustomGradient} call in a new JavaCPP
 * callback, and JavaCPP has ten callback slots: the 11th registered gradient segfaults when it is
 * invoked. So this class creates exactly one callback, a dispatcher that looks the op type up in
 * its own table, and hands that same callback to TensorFlow for every op type. This registry and
 * {@link GradientOverride}'s table of per-node gradients (reached through the IdentityN gradient
 * registered here) are the only static mutable state in the project; registration is idempotent and
 * thread-safe.
 */
public final class CustomGradients {

  /** Gradients this project provides, keyed by op type. */
  private static final Map<String, OpGradient> GRADIENTS = new LinkedHashMap<>();

  /** The single native callback; kept reachable for the life of the process. */
  private static TFJ_GradFuncAdapter dispatcher;

  static {
    for (OpGradient gradient :
        List.of(
            new TopKGradient(),
            new SparseSoftmaxCrossEntropyGradient(),
            TensorScatterGradients.add(),
            TensorScatterGradients.update(),
            TensorScatterGradients.sub(),
            new ZeroGradient("OnesLike"),
            new IdentityNGradient())) {
      GRADIENTS.put(gradient.opType(), gradient);
    }
  }

  private CustomGradients() {}

  /**
   * Registers every gradient of this project with TensorFlow. Call before building gradients; cheap
   * after the first call. {@link Gradients} calls it for you.
   */
  public static synchronized void install() {
    if (dispatcher != null) {
      return;
    }
    dispatcher = RawCustomGradient.adapter(CustomGradients::dispatch);
    for (String opType : GRADIENTS.keySet()) {
      registerWithTensorFlow(opType);
    }
  }

  /**
   * Adds a gradient for an op type that has none. Fails if TensorFlow already has one (a C++
   * gradient cannot be overridden) or this project already registered one.
   */
  public static synchronized void register(OpGradient gradient) {
    checkArgument(
        !GRADIENTS.containsKey(gradient.opType()),
        "a Java gradient for op type %s is already registered",
        gradient.opType());
    install();
    GRADIENTS.put(gradient.opType(), gradient);
    registerWithTensorFlow(gradient.opType());
  }

  /** True if TensorFlow can differentiate this op type (a C++ gradient or one of ours). */
  public static synchronized boolean hasGradient(String opType) {
    install();
    return tensorflow.TFJ_HasGradient(opType);
  }

  /** The op types this project gives gradients to, sorted. */
  public static synchronized ImmutableSortedSet<String> opTypes() {
    return ImmutableSortedSet.copyOf(GRADIENTS.keySet());
  }

  private static void registerWithTensorFlow(String opType) {
    checkArgument(
        !tensorflow.TFJ_HasGradient(opType),
        "op type %s already has a gradient in TensorFlow; C++ gradients cannot be overridden",
        opType);
    if (!tensorflow.TFJ_RegisterCustomGradient(opType, dispatcher)) {
      throw new IllegalStateException("TensorFlow refused the gradient for op type " + opType);
    }
  }

  private static List<Operand<?>> dispatch(
      Ops tf, GraphOperation op, List<Output<?>> outputGradients) {
    OpGradient gradient;
    synchronized (CustomGradients.class) {
      gradient = GRADIENTS.get(op.type());
    }
    if (gradient == null) {
      throw new IllegalStateException("no Java gradient registered for op type " + op.type());
    }
    List<Operand<?>> grads = gradient.inputGradients(tf, op, outputGradients);
    if (grads.size() != op.numInputs()) {
      throw new IllegalStateException(
          String.format(
              "gradient of %s returned %d entries for %d inputs",
              op.type(), grads.size(), op.numInputs()));
    }
    // TensorFlow Java throws on a null gradient: inputs without one get zeros of their own type.
    List<Operand<?>> filled = new ArrayList<>(grads.size());
    for (int i = 0; i < grads.size(); i++) {
      filled.add(grads.get(i) != null ? grads.get(i) : tf.zerosLike(op.input(i)));
    }
    return ImmutableList.copyOf(filled);
  }
}
