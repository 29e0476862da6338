package io.switchhead.tools;

import io.switchhead.graph.accounting.ModelReport;
import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.Presets;
import io.switchhead.tools.inspect.HumanNumbers;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code switchhead presets}: the named model configs with their parameter and attention costs. */
@Command(name = "presets", mixinStandardHelpOptions = true,
    description = {"List the model presets: parameters, and per attention layer the paper's MACs and memory",
        "beside the MACs the built graph runs for one sequence. With a name: print its config as JSON."})
final class PresetsCommand implements Callable<Integer> {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Parameters(arity = "0..1", paramLabel = "NAME", description = "A preset to print as JSON (e.g. to edit and pass to --config).")
  String name;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    if (name != null) {
      out.println(ConfigJson.write(Presets.get(name)));
      return 0;
    }
    out.printf("%-28s %12s %14s %14s %14s %14s%n", "preset", "parameters", "attn params", "paper MACs", "graph MACs", "paper memory");
    for (String preset : List.copyOf(Presets.names())) {
      ModelReport r = ModelReport.of(Presets.get(preset));
      out.printf(Locale.ROOT, "%-28s %12s %14s %14s %14s %14s%n", preset, human(r.parameters()), human(r.attentionParameters()),
          human(r.paperMacs()), human(r.graphMacs()), human(r.paperMemoryFloats()));
    }
    out.println("attn params, MACs and memory (floats) are per attention layer and one sequence of the preset's context;");
    out.println("graph MACs count every matmul the built layer runs (XL memory recomputed, expert-block padding included).");
    return 0;
  }

  private static String human(double v) {
    return HumanNumbers.format(v);
  }
}
