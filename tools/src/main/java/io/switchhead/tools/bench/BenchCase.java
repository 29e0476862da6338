package io.switchhead.tools.bench;

import io.switchhead.ops.GraphOps;
import io.switchhead.ops.xla.XlaCompiledCall;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.proto.StepStats;
import org.tensorflow.types.family.TType;

/**
 * One timed computation: a step built on placeholders fed with pre-built tensors, so no data is
 * copied while timing. With XLA, the whole step is one must-compile function call; without, it is
 * the plain graph. Outputs are run as targets, not fetched, so nothing is copied out either.
 *
 * <p>Cases compared with each other share one {@link Shared} graph and session, as the ops of one
 * training process do: one set of TensorFlow thread pools rather than one idle set per case.
 */
final class BenchCase implements AutoCloseable {

  /** The graph and session that the cases of one comparison are built in and run by. */
  static final class Shared implements AutoCloseable {
    private final Graph graph = new Graph();
    private final Session session = new Session(graph);
    private int cases;

    @Override
    public void close() {
      session.close();
      graph.close();
    }
  }

  /** Builds the step's outputs from its inputs (by name, in the order of the feed map). */
  @FunctionalInterface
  interface Step {
    Map<String, Operand<?>> build(Ops tf, Map<String, Operand<?>> inputs);
  }

  private final Session session;
  private final ConcreteFunction function;
  private final Map<Placeholder<?>, Tensor> feeds = new LinkedHashMap<>();
  private final List<Operand<?>> targets = new ArrayList<>();

  /** Builds the case in {@code shared}'s graph, under a name scope of its own. */
  BenchCase(Shared shared, Map<String, Tensor> inputs, Step step, boolean xla) {
    this.session = shared.session;
    Ops tf = GraphOps.create(shared.graph).withSubScope("case" + shared.cases++);
    Map<String, Operand<?>> placeholders = placeholders(tf, inputs);
    inputs.forEach((name, t) -> feeds.put((Placeholder<?>) placeholders.get(name), t));
    if (xla) {
      function =
          ConcreteFunction.create(
              ftf -> {
                Map<String, Operand<?>> in = placeholders(ftf, inputs);
                Signature.Builder sig = Signature.builder().key("bench_step");
                in.forEach(sig::input);
                step.build(ftf, in).forEach(sig::output);
                return sig.build();
              });
      Map<String, Operand<?>> out = XlaCompiledCall.call(tf, function, placeholders);
      targets.add(out.values().iterator().next()); // one call op computes every output
    } else {
      function = null;
      targets.addAll(step.build(tf, placeholders).values());
    }
  }

  /** Runs the step once; wall-clock milliseconds. */
  double runMillis() {
    Session.Runner runner = runner();
    long start = System.nanoTime();
    runner.run().close();
    return (System.nanoTime() - start) / 1e6;
  }

  /** The median of run times (the mean of the middle two for an even count). */
  static double median(List<Double> millis) {
    double[] t = millis.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    return t.length % 2 == 1 ? t[t.length / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
  }

  /**
   * One traced run: microseconds per op type (or per node with {@code byNode}), summed over the
   * ops, largest first. Ops overlap on the two cores, so the sum exceeds the wall time.
   */
  Map<String, Long> profile(boolean byNode) {
    RunOptions options = RunOptions.newBuilder().setTraceLevel(RunOptions.TraceLevel.FULL_TRACE).build();
    Map<String, Long> micros = new LinkedHashMap<>();
    try (Result r = runner().setOptions(options).runAndFetchMetadata()) {
      StepStats stats = r.getMetadata().orElseThrow().getStepStats();
      stats.getDevStatsList().forEach(
          dev -> dev.getNodeStatsList().forEach(
              node -> {
                // Timeline labels read "name = Type(inputs)".
                String label = node.getTimelineLabel();
                String type = label.contains("= ") ? label.substring(label.indexOf("= ") + 2).split("\\(")[0] : node.getNodeName();
                micros.merge(byNode ? node.getNodeName() + ":" + type : type, node.getAllEndRelMicros(), Long::sum);
              }));
    }
    Map<String, Long> sorted = new LinkedHashMap<>();
    micros.entrySet().stream()
        .sorted(Map.Entry.<String, Long>comparingByValue().reversed())
        .forEach(e -> sorted.put(e.getKey(), e.getValue()));
    return sorted;
  }

  private Session.Runner runner() {
    Session.Runner runner = session.runner();
    feeds.forEach(runner::feed);
    targets.forEach(runner::addTarget);
    return runner;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Operand<?>> placeholders(Ops tf, Map<String, Tensor> inputs) {
    Map<String, Operand<?>> out = new LinkedHashMap<>();
    inputs.forEach(
        (name, t) -> out.put(name, tf.withName(name).placeholder((Class<TType>) ((TType) t).type(), Placeholder.shape(t.shape()))));
    return out;
  }

  /** Closes the case's function; the shared graph and session close with {@link Shared}. */
  @Override
  public void close() {
    if (function != null) {
      function.close();
    }
  }
}
