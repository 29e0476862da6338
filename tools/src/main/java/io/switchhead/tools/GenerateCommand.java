package io.switchhead.tools;

import io.switchhead.graph.generate.Generator;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code switchhead generate}: continues a prompt with a trained byte-level model. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Continue a prompt with the latest checkpoint of a training run (byte-level models).")
final class GenerateCommand implements Callable<Integer> {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--out", paramLabel = "DIR", description = "The run directory (default: ${DEFAULT-VALUE}).",
      defaultValue = "runs/switchhead-tiny")
  Path run;

  @Option(names = "--prompt", description = "Text to continue (default: '${DEFAULT-VALUE}').", defaultValue = "The ")
  String prompt;

  @Option(names = "--tokens", description = "Bytes to generate (default: ${DEFAULT-VALUE}).", defaultValue = "300")
  int tokens;

  @Option(names = "--temperature", description = "0 for greedy, higher for more varied text (default: ${DEFAULT-VALUE}).",
      defaultValue = "0.8")
  double temperature;

  @Option(names = "--seed", description = "Sampling seed (default: ${DEFAULT-VALUE}).", defaultValue = "1")
  long seed;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try (Generator generator = Generator.load(run, warning -> err.println(spec.qualifiedName() + ": warning: " + warning))) {
      if (generator.config().vocabSize() != 256) {
        throw new CommandLine.ParameterException(spec.commandLine(),
            "generate works on byte-level models (vocabulary 256); this run's vocabulary is " + generator.config().vocabSize());
      }
      byte[] bytes = prompt.getBytes(StandardCharsets.UTF_8);
      int[] ids = new int[bytes.length];
      for (int i = 0; i < bytes.length; i++) {
        ids[i] = bytes[i] & 0xff;
      }
      int[] continuation = generator.continueFrom(ids, tokens, temperature, seed);
      byte[] text = new byte[continuation.length];
      for (int i = 0; i < text.length; i++) {
        text[i] = (byte) continuation[i];
      }
      out.print(prompt);
      out.println(new String(text, StandardCharsets.UTF_8));
      return 0;
    }
  }
}
