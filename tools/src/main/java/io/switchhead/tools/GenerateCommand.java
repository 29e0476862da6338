package io.switchhead.tools;

import io.switchhead.graph.generate.Generator;
import io.switchhead.graph.generate.Sampling;
import io.switchhead.graph.generate.TokenDecoder;
import io.switchhead.savedmodel.ServedModel;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code switchhead generate}: continues a prompt with a trained byte-level model, streaming the text. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Continue a prompt with a byte-level model, from a training run or an exported SavedModel.",
        "Decodes with decode_step's cache; the text streams as it is produced. One seed gives one text from either source."})
final class GenerateCommand implements Callable<Integer> {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  /** Where the model comes from: one of the two. */
  static final class Source {
    @Option(names = "--out", paramLabel = "RUN_DIR", description = "A training run's directory: its newest intact checkpoint "
        + "(default: runs/switchhead-tiny).")
    Path run;

    @Option(names = "--model", paramLabel = "DIR", description = "A SavedModel written by switchhead export.")
    Path savedModel;
  }

  @ArgGroup(exclusive = true, multiplicity = "0..1")
  Source source = new Source();

  @Option(names = "--prompt", description = "Text to continue (default: '${DEFAULT-VALUE}').", defaultValue = "The ")
  String prompt;

  @Option(names = "--tokens", description = "Bytes to generate (default: ${DEFAULT-VALUE}).", defaultValue = "300")
  int tokens;

  @Option(names = "--temperature", description = "0 for greedy, higher for more varied text (default: ${DEFAULT-VALUE}).",
      defaultValue = "0.8")
  double temperature;

  @Option(names = "--top-k", paramLabel = "K", description = "Sample among the K most likely bytes only; 0 for all (default: ${DEFAULT-VALUE}).",
      defaultValue = "0")
  int topK;

  @Option(names = "--top-p", paramLabel = "P", description = "Sample among the most likely bytes whose probability reaches P; "
      + "1 for all (default: ${DEFAULT-VALUE}).", defaultValue = "1")
  double topP;

  @Option(names = "--seed", description = "Sampling seed (default: ${DEFAULT-VALUE}).", defaultValue = "1")
  long seed;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Sampling sampling;
    try {
      sampling = new Sampling(temperature, topK, topP, seed);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
    }
    try (ServedModel model = source.savedModel != null
            ? ServedModel.load(source.savedModel)
            : ServedModel.fromRun(source.run != null ? source.run : Path.of("runs/switchhead-tiny"), OptionalLong.empty(),
                warning -> err.println(spec.qualifiedName() + ": warning: " + warning));
        TokenDecoder decoder = model.cachedDecoder()) {
      if (model.config().vocabSize() != 256) {
        throw new CommandLine.ParameterException(spec.commandLine(),
            "generate works on byte-level models (vocabulary 256); this model's vocabulary is " + model.config().vocabSize());
      }
      byte[] bytes = prompt.getBytes(StandardCharsets.UTF_8);
      int[] ids = new int[bytes.length];
      for (int i = 0; i < bytes.length; i++) {
        ids[i] = bytes[i] & 0xff;
      }
      out.print(prompt);
      out.flush();
      Utf8Stream text = new Utf8Stream(out);
      Generator.continueFrom(decoder, ids, tokens, sampling, text::write);
      text.finish();
      out.println();
      return 0;
    }
  }
}
