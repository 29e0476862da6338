package io.switchhead.tools;

import io.switchhead.savedmodel.weights.WeightsExport;
import java.nio.file.Path;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code switchhead weights export}: a run's checkpoint's parameters as a safetensors file. */
@Command(name = "export", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Write a checkpoint's parameters as a safetensors file.",
        "No optimizer state; every tensor F32; the metadata records the model config,",
        "the checkpoint and the step."})
final class WeightsExportCommand implements Callable<Integer> {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Parameters(index = "0", paramLabel = "RUN_DIR", description = "The training run's directory (its --out).")
  Path run;

  @Parameters(index = "1", paramLabel = "OUT.safetensors", description = "Where the file goes; must not exist unless --overwrite.")
  Path out;

  @Option(names = "--checkpoint", paramLabel = "STEP", description = "The checkpoint of this step (default: the latest).")
  Long step;

  @Option(names = "--overwrite", description = "Replace an existing file (only once the new one is complete).")
  boolean overwrite;

  @Override
  public Integer call() {
    WeightsExport.Exported e = WeightsExport.export(run, step == null ? OptionalLong.empty() : OptionalLong.of(step), out, overwrite,
        warning -> spec.commandLine().getErr().println(spec.qualifiedName() + ": warning: " + warning));
    spec.commandLine().getOut().printf(Locale.ROOT, "exported step %d of %s to %s (%d tensors, %,d bytes)%n", e.step(), e.checkpoint(),
        out, e.tensors(), e.bytes());
    return 0;
  }
}
