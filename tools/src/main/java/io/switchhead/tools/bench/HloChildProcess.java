package io.switchhead.tools.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Starts {@link HloStepChild} in a fresh JVM (same java, same class path) with XLA's dump flags, and waits for it. */
final class HloChildProcess {

  /** Log lines of a failed child quoted in the error. */
  private static final int TAIL_LINES = 15;

  private HloChildProcess() {}

  /**
   * @param dumpFlags appended to the caller's {@code XLA_FLAGS}, so a user's own flags still apply
   * @throws HloExport.ExportFailure if the child fails, with the end of its log
   */
  static void run(String model, List<String> args, String dumpFlags, Path log) {
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        // The launcher's stack size: building the graph's gradients recurses deeply.
        "-Xss4m", "-cp", System.getProperty("java.class.path"), HloStepChild.class.getName()));
    command.addAll(args);
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    String flags = System.getenv().getOrDefault("XLA_FLAGS", "");
    builder.environment().put("XLA_FLAGS", (flags.isBlank() ? "" : flags + " ") + dumpFlags);
    builder.environment().putIfAbsent("TF_CPP_MIN_LOG_LEVEL", "2");
    Process child = null;
    try {
      child = builder.start();
      int code = child.waitFor();
      if (code != 0) {
        List<String> lines = Files.readAllLines(log);
        throw new HloExport.ExportFailure(model + ": the child JVM that builds and compiles the step exited with " + code + "; its log (" + log + ") ends:\n"
            + String.join("\n", lines.subList(Math.max(0, lines.size() - TAIL_LINES), lines.size())));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start or read the child JVM for " + model + " (log " + log + ")", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      child.destroyForcibly();
      throw new HloExport.ExportFailure(model + ": interrupted while its child JVM ran");
    }
  }
}
