package io.switchhead.ops.xla;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableMap;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.OperationBuilder;
import org.tensorflow.Signature;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.DataType;

/**
 * Calls a graph function so that XLA must compile it.
 *
 * <p>{@code ConcreteFunction.call} emits a plain PartitionedCall, which TensorFlow runs op by op.
 * This emits a StatefulPartitionedCall with {@code _XlaMustCompile = true}: the function is compiled
 * as one XLA cluster on first run, or the run fails naming the op XLA could not compile. Nothing
 * silently falls back to uncompiled execution.
 *
 * <p>The function must not hold variables: pass their values in as arguments and apply updates
 * outside (ref variables stay outside XLA clusters anyway).
 */
public final class XlaCompiledCall {

  /** The attribute that turns a function call into a must-compile XLA cluster. */
  public static final String MUST_COMPILE_ATTR = "_XlaMustCompile";

  private XlaCompiledCall() {}

  /**
   * Attaches {@code function} to the graph of {@code tf} and calls it with the named arguments.
   *
   * @return the function's outputs by name, in the signature's order
   */
  public static Map<String, Operand<?>> call(
      Ops tf, ConcreteFunction function, Map<String, ? extends Operand<?>> arguments) {
    checkArgument(tf.scope().env() instanceof Graph, "XLA function calls need a Graph");
    Signature signature = function.signature();
    checkArgument(
        arguments.keySet().equals(signature.inputNames()),
        "function %s takes arguments %s, got %s",
        function.getDefinedName(),
        signature.inputNames(),
        arguments.keySet());
    Graph graph = (Graph) tf.scope().env();
    graph.attachFunction(function);

    List<Operand<?>> args = new ArrayList<>();
    for (String name : signature.inputNames()) {
      args.add(arguments.get(name));
    }
    List<DataType> outTypes = new ArrayList<>();
    for (Signature.TensorDescription out : signature.getOutputs().values()) {
      outTypes.add(out.dataType);
    }
    OperationBuilder builder = tf.scope().opBuilder("StatefulPartitionedCall", "xla_" + function.getDefinedName());
    List<org.tensorflow.Output<?>> argOutputs = new ArrayList<>();
    args.forEach(a -> argOutputs.add(a.asOutput()));
    builder.addInputList(argOutputs.toArray(new org.tensorflow.Output<?>[0]));
    builder.setAttr("Tout", outTypes.toArray(new DataType[0]));
    builder.setAttr("f", function);
    builder.setAttr(MUST_COMPILE_ATTR, true);
    GraphOperation op = (GraphOperation) builder.build();

    ImmutableMap.Builder<String, Operand<?>> outputs = ImmutableMap.builder();
    Iterator<String> names = signature.getOutputs().keySet().iterator();
    for (int i = 0; names.hasNext(); i++) {
      outputs.put(names.next(), op.output(i));
    }
    return outputs.build();
  }
}
