package io.switchhead.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The test-only Python environment that {@code .ci/python-env} installs into {@code .venv-test}
 * (TensorFlow 2.21 with {@code saved_model_cli}, safetensors, tensorboard): the outside tools the
 * tests check the project's files with. Tests that need it fail, not skip, when it is missing, and
 * say how to install it. {@code -Dswitchhead.python=PATH} names another interpreter.
 */
public final class TestPython {

  /** What a finished Python command printed and how it ended. */
  public record Run(int exitCode, String stdout, String stderr) {

    /** Stdout, or an assertion error with the command's stderr when it failed. */
    public String requireSuccess() {
      if (exitCode != 0) {
        throw new AssertionError("python exited with " + exitCode + "\nstderr:\n" + stderr + "\nstdout:\n" + stdout);
      }
      return stdout;
    }
  }

  private TestPython() {}

  /** The interpreter of the test environment. */
  public static Path interpreter() {
    String named = System.getProperty("switchhead.python");
    Path python = named != null ? Path.of(named) : repositoryRoot().resolve(".venv-test/bin/python");
    if (!Files.isExecutable(python)) {
      throw new AssertionError("the test-only Python environment is missing (" + python
          + "): run .ci/python-env once (it installs tensorflow_cpu 2.21, safetensors and tensorboard from the local"
          + " pip index into .venv-test), or pass -Dswitchhead.python=PATH");
    }
    return python;
  }

  /** A program of the environment's bin directory, such as {@code saved_model_cli}. */
  public static Path program(String name) {
    return interpreter().resolveSibling(name);
  }

  /** Runs {@code python -c script args...}, waiting at most {@code timeoutSeconds}. */
  public static Run script(String script, long timeoutSeconds, String... args) {
    List<String> command = new ArrayList<>(List.of(interpreter().toString(), "-c", script));
    command.addAll(List.of(args));
    return run(command, timeoutSeconds);
  }

  /** Runs a command (e.g. {@link #program}'s path and its arguments), waiting at most {@code timeoutSeconds}. */
  public static Run run(List<String> command, long timeoutSeconds) {
    try {
      Path out = Files.createTempFile("python-out", ".txt");
      Path err = Files.createTempFile("python-err", ".txt");
      try {
        ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
        builder.environment().put("TF_CPP_MIN_LOG_LEVEL", "2");
        builder.environment().put("CUDA_VISIBLE_DEVICES", "");
        Process process = builder.start();
        if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
          process.destroyForcibly();
          throw new AssertionError("python did not finish in " + timeoutSeconds + " s: " + command);
        }
        return new Run(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
      } finally {
        Files.deleteIfExists(out);
        Files.deleteIfExists(err);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted while running " + command, e);
    }
  }

  /** The directory holding {@code .ci}, above the working directory (a module's directory under Maven). */
  static Path repositoryRoot() {
    Path dir = Path.of("").toAbsolutePath();
    for (Path p = dir; p != null; p = p.getParent()) {
      if (Files.isDirectory(p.resolve(".ci"))) {
        return p;
      }
    }
    throw new AssertionError("no .ci directory above " + dir + ": run the tests from the repository");
  }
}
