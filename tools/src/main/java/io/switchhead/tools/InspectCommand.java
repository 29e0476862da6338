package io.switchhead.tools;

import io.switchhead.tools.inspect.InspectReport;
import io.switchhead.tools.inspect.InspectTarget;
import io.switchhead.tools.inspect.Inspection;
import io.switchhead.tools.inspect.TextReport;
import io.switchhead.tools.inspect.RoutingInspection;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code switchhead inspect}: what a model's graph holds and costs, as tables, JSON and pictures. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
    description = {"Show what a model's graph holds and costs: parameters, attention MACs and memory per layer (paper",
        "formula beside the built graph's count, and against the matched dense baseline), op types, what XLA compiles,",
        "a SavedModel's signatures and variables; draw the graph (SVG, PNG, DOT) or write it for TensorBoard."})
final class InspectCommand implements Callable<Integer> {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Parameters(paramLabel = "TARGET", description = "A preset name, a config JSON file, a run directory or a SavedModel written by export.")
  String target;

  @Option(names = "--training", description = "Also build the training step: its op types, and the XLA report of the step.")
  boolean training;

  @Option(names = "--json", description = "Print everything as JSON.")
  boolean json;

  @Option(names = "--graph", paramLabel = "FILE", description = "Draw the forward graph, scopes collapsed into layer boxes: FILE.svg, .png or .dot.")
  Path graph;

  @Option(names = "--expand", paramLabel = "SCOPE", description = "In the picture, show this scope one level deeper (e.g. layers/3/attention).")
  String expand;

  @Option(names = "--tensorboard", paramLabel = "DIR", description = "Write the forward graph as a TensorBoard event file in DIR.")
  Path tensorBoard;

  @Option(names = "--routing", paramLabel = "TEXT_FILE",
      description = "With a run directory: run its model on the text and show each layer's and head's expert usage (table, pictures).")
  Path routing;

  @Option(names = "--routing-dir", paramLabel = "DIR", defaultValue = "routing",
      description = "Where --routing writes its pictures, PNG and SVG (default: ${DEFAULT-VALUE}).")
  Path routingDir;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    if (expand != null && graph == null) {
      throw new IllegalArgumentException("--expand " + expand + " needs --graph FILE (it chooses what the picture shows)");
    }
    InspectTarget resolved = InspectTarget.resolve(target, err::println);
    if (routing != null && resolved.kind() != InspectTarget.Kind.RUN_DIRECTORY) {
      throw new IllegalArgumentException("--routing needs a run directory as TARGET (its trained model routes the text); " + target + " is not one");
    }
    InspectReport report = new Inspection(resolved, training, graph, expand, tensorBoard).run();
    if (routing == null) {
      if (json) {
        out.println(report.toJson());
      } else {
        TextReport.print(report, out);
      }
      return 0;
    }
    StringWriter routed = new StringWriter();
    try (PrintWriter routedOut = new PrintWriter(routed)) {
      RoutingInspection.run(Path.of(target), routing, routingDir, routedOut, json, err::println);
    }
    if (json) {
      out.println("{\"inspection\": " + report.toJson() + ",\n\"routing\": " + routed + "}");
    } else {
      TextReport.print(report, out);
      out.println();
      out.print(routed);
    }
    out.flush(); // print() does not flush, and the JVM exits without flushing a PrintWriter
    return 0;
  }
}
