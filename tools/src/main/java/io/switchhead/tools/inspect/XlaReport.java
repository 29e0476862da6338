package io.switchhead.tools.inspect;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.TreeMap;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;

/**
 * Which ops of a graph XLA compiles and which would stop a compilation, from TensorFlow's kernel
 * registry ({@link XlaKernels}). In a training step the variables (VariableV2) and their updates
 * stay outside XLA by design (ref variables cannot join a cluster); the compiled step takes their
 * values as arguments.
 *
 * @param graph which graph was asked about
 * @param method how the answer was found
 * @param probe what compiling the probe function said
 * @param compiledTypes op types XLA compiles, with their counts
 * @param stoppingTypes op types XLA cannot compile, with their counts
 * @param stopping each op that would stop compilation, by name and type
 */
public record XlaReport(String graph, String method, String probe, int ops, int compiled,
    ImmutableSortedMap<String, Integer> compiledTypes, ImmutableSortedMap<String, Integer> stoppingTypes,
    ImmutableList<Op> stopping) {

  public record Op(String name, String type) {}

  static final String METHOD = "TensorFlow's kernel registry (TF_GetRegisteredKernelsForOp): an op type with an "
      + XlaKernels.DEVICE + " kernel is one XLA's CPU compiler lowers";

  static XlaReport of(String name, Graph graph, XlaKernels kernels) {
    TreeMap<String, Integer> compiledTypes = new TreeMap<>();
    TreeMap<String, Integer> stoppingTypes = new TreeMap<>();
    List<Op> stopping = new ArrayList<>();
    int ops = 0;
    for (Iterator<GraphOperation> it = graph.operations(); it.hasNext(); ) {
      GraphOperation op = it.next();
      ops++;
      if (kernels.compiles(op.type())) {
        compiledTypes.merge(op.type(), 1, Integer::sum);
      } else {
        stoppingTypes.merge(op.type(), 1, Integer::sum);
        stopping.add(new Op(op.name(), op.type()));
      }
    }
    return new XlaReport(name, METHOD, kernels.probe, ops, ops - stopping.size(), ImmutableSortedMap.copyOf(compiledTypes),
        ImmutableSortedMap.copyOf(stoppingTypes), ImmutableList.copyOf(stopping));
  }
}
