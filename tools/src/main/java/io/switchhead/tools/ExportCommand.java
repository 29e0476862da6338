package io.switchhead.tools;

import io.switchhead.savedmodel.SavedModelExport;
import io.switchhead.savedmodel.ServingSignatures;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code switchhead export}: a run's checkpoint as a SavedModel for TF Serving. */
@Command(name = "export", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Export a run's checkpoint as a SavedModel for TF Serving (tag serve, the weights only):",
        "signatures " + ServingSignatures.DEFAULT + " (tokens -> logits), " + ServingSignatures.NEXT_TOKEN_LOGPROBS
            + " (tokens -> logprobs of the next token), " + ServingSignatures.DECODE_STEP + " (tokens and cache -> logits and cache)",
        "and " + ServingSignatures.DECODE_START + " (decode_step from an empty cache)."})
final class ExportCommand implements Callable<Integer> {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Parameters(index = "0", paramLabel = "RUN_DIR", description = "The training run's directory (its --out).")
  Path run;

  @Parameters(index = "1", paramLabel = "OUT_DIR", description = "Where the SavedModel goes; must not exist unless --overwrite.")
  Path outDir;

  @Option(names = "--checkpoint", paramLabel = "STEP", description = "The checkpoint of this step (default: the latest).")
  Long step;

  @Option(names = "--overwrite", description = "Replace an existing OUT_DIR (only once the new export is complete).")
  boolean overwrite;

  @Option(names = "--xla", description = {"Mark the full-window signatures (" + ServingSignatures.DEFAULT + ", " + ServingSignatures.NEXT_TOKEN_LOGPROBS
      + ") for XLA compilation where they run;", "for GPU servers: on a CPU it was slower (README)."})
  boolean xla;

  @Override
  public Integer call() {
    SavedModelExport.Description d = SavedModelExport.export(run, step == null ? OptionalLong.empty() : OptionalLong.of(step),
        outDir, new SavedModelExport.Options(overwrite, xla), warning -> spec.commandLine().getErr().println(spec.qualifiedName() + ": warning: " + warning));
    PrintWriter out = spec.commandLine().getOut();
    out.printf("exported step %d of %s to %s (signatures %s%s)%n", d.step(), d.checkpoint(), outDir, String.join(", ", d.signatures().keySet()),
        d.xlaMarked().isEmpty() ? "" : "; marked for XLA: " + String.join(", ", d.xlaMarked()));
    return 0;
  }
}
