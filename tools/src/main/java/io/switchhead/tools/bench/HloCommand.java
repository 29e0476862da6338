package io.switchhead.tools.bench;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code switchhead bench hlo OUT_DIR}: see {@link HloExport}. */
@Command(name = "hlo", mixinStandardHelpOptions = true,
    description = {"Writes each model's compiled training step (forward and backward, as XLA compiles it) as HLO into OUT_DIR/NAME/,",
        "text and proto, before and after XLA's optimizations, with OUT_DIR/manifest.json: the file to compile, each module",
        "parameter's name, shape and meaning, and TensorFlow Java's own time for the step. tools/src/main/python/hlo_bench.py",
        "compiles and times the modules with JAX on whatever XLA backend is present (CPU here, a GPU elsewhere)."})
public final class HloCommand implements Callable<Integer> {

  @Parameters(index = "0", paramLabel = "OUT_DIR", description = "Where the modules and manifest.json go (created if missing).")
  Path out;

  @Option(names = "--models", split = ",", paramLabel = "PRESET|FILE.json",
      description = "Models: preset names or config files (default: ${DEFAULT-VALUE}).", defaultValue = "switchhead-tiny,dense-tiny")
  List<String> models;

  @Option(names = "--batch", defaultValue = "16", description = "Sequences per step, fixed in the module (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--values", description = {"Also write each step's arguments (tokens, seed, fresh parameters) as .npy files under",
      "OUT_DIR/NAME/values/, so the script can check its loss against TensorFlow's (47M: about 190 MB a model)."})
  boolean values;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter log = spec.commandLine().getOut();
    try {
      HloExport.run(new HloExport.Request(ModelNames.entries(models), batch, out, values), log);
    } catch (HloExport.ExportFailure e) {
      spec.commandLine().getErr().println(spec.qualifiedName() + ": " + e.getMessage());
      return 1;
    }
    return 0;
  }
}
