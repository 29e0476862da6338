package io.switchhead.tools.bench;

import com.google.common.base.Stopwatch;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.model.ForwardGraph;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.graph.train.AdamW;
import io.switchhead.graph.train.StepKind;
import io.switchhead.graph.train.StepSettings;
import io.switchhead.graph.train.TrainingGraph;
import io.switchhead.ops.GraphOps;
import java.io.PrintWriter;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.tensorflow.Graph;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TInt32;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code switchhead bench build}: how long a model's graph takes to build, with TensorFlow Java's own scope and with
 * {@link GraphOps}' (which does not reread every op name at each sub-scope), interleaved; and the whole plain training
 * start-up (graph, gradients, session, initial values) as {@code train} builds it.
 */
@Command(name = "build", mixinStandardHelpOptions = true,
    description = {"Graph-building time per model: the forward graph built with TensorFlow Java's Ops.create and with the",
        "project's GraphOps.create, interleaved; then the plain training graph's whole start-up (forward, gradients,",
        "session, initial values), as train builds it. Medians over the repetitions."})
public final class GraphBuildCommand implements Callable<Integer> {

  @Option(names = "--models", split = ",", paramLabel = "PRESET|FILE.json",
      description = "Models: preset names or config files (default: ${DEFAULT-VALUE}).",
      defaultValue = "switchhead-47m-wikitext103,dense-47m")
  List<String> models;

  @Option(names = "--repeats", defaultValue = "3", description = "Repetitions, interleaved (default: ${DEFAULT-VALUE}).")
  int repeats;

  @Option(names = "--batch", defaultValue = "2", description = "Sequences per training step (default: ${DEFAULT-VALUE}).")
  int batch;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    if (repeats < 1 || batch < 1) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--repeats and --batch must be at least 1");
    }
    PrintWriter out = spec.commandLine().getOut();
    out.println("Graph building on " + CpuName.describe() + ", medians of " + repeats + ":");
    out.println();
    out.println("| model | forward ops | forward, Ops.create (ms) | forward, GraphOps.create (ms) | ratio | training start-up (s) |");
    out.println("|---|---|---|---|---|---|");
    for (CompareBenchmark.Entry entry : ModelNames.entries(models)) {
      double[] theirs = new double[repeats];
      double[] ours = new double[repeats];
      double[] startUp = new double[repeats];
      int ops = forwardOps(entry.config());
      for (int r = 0; r < repeats; r++) {
        theirs[r] = forwardMillis(entry.config(), Ops::create);
        ours[r] = forwardMillis(entry.config(), GraphOps::create);
        startUp[r] = trainingStartUpSeconds(entry.config());
      }
      out.printf(Locale.ROOT, "| %s | %d | %.1f | %.1f | %.2fx | %.1f |%n", entry.name(), ops, ServingCalls.median(theirs), ServingCalls.median(ours),
          ServingCalls.median(ours) / ServingCalls.median(theirs), ServingCalls.median(startUp));
      out.flush();
    }
    out.println();
    out.println("ratio: GraphOps' forward time over TensorFlow Java's. Start-up: new TrainingGraph(plain step) with GraphOps.");
    return 0;
  }

  private static ForwardGraph.Output forward(ModelConfig c, Ops tf) {
    Placeholder<TInt32> tokens = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(1, c.context())));
    return ForwardGraph.build(c, ParamStore.arguments(tf), LayerContext.eval(tf), ForwardGraph.Inputs.tokens(tokens));
  }

  private static double forwardMillis(ModelConfig c, Function<Graph, Ops> ops) {
    try (Graph g = new Graph()) {
      Stopwatch watch = Stopwatch.createStarted();
      forward(c, ops.apply(g));
      return watch.elapsed(TimeUnit.MICROSECONDS) / 1000.0;
    }
  }

  private static int forwardOps(ModelConfig c) {
    try (Graph g = new Graph()) {
      forward(c, GraphOps.create(g));
      int[] n = {0};
      g.operations().forEachRemaining(op -> n[0]++);
      return n[0];
    }
  }

  private double trainingStartUpSeconds(ModelConfig c) {
    Stopwatch watch = Stopwatch.createStarted();
    try (TrainingGraph graph = new TrainingGraph(c, new StepSettings(batch, 1, AdamW.paper(0), 0.25), EnumSet.of(StepKind.PLAIN))) {
      return watch.elapsed(TimeUnit.MILLISECONDS) / 1000.0;
    }
  }
}
