package io.switchhead.tools.bench;

import static com.google.common.base.Preconditions.checkArgument;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchhead.graph.accounting.ParameterCount;
import io.switchhead.graph.config.ConfigJson;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One run of the eager PyTorch reference of a model's training step ({@code pytorch_step.py}, packed
 * in this jar) in a child Python process: the same config, batch and steps as {@code bench compare}
 * times, the project's parameter count passed so the script refuses a model of another size.
 */
public final class PyTorchStep {

  /** The script's resource, beside this class. */
  private static final String SCRIPT = "pytorch_step.py";

  /** Log lines of a failed child quoted in the error. */
  private static final int TAIL_LINES = 15;

  /** Untimed steps before a run's timed ones (the first allocates the gradients and AdamW's state). */
  static final int WARMUP_STEPS = 2;

  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * @param python the interpreter, with torch installed
   * @param batch sequences per step
   * @param steps timed steps (the run's figure is their mean)
   */
  public record Request(Path python, CompareBenchmark.Entry entry, int batch, int steps) {
    public Request {
      checkArgument(batch >= 1 && steps >= 1, "a PyTorch run needs batch (%s) and steps (%s) >= 1", batch, steps);
    }
  }

  /**
   * What one run measured.
   *
   * @param parameters the PyTorch model's count, which the script checked against the project's
   * @param millis mean ms per timed step
   * @param firstLoss the first step's loss (at initialisation: about ln(vocab) plus what random logits add)
   * @param peakRssBytes the child's peak resident memory (VmHWM) after its steps
   */
  public record Run(long parameters, double millis, double firstLoss, long peakRssBytes) {}

  /** The script could not run, or refused, or failed: the message names the interpreter and what it said. */
  public static final class Failure extends RuntimeException {
    Failure(String message) {
      super(message);
    }
  }

  private PyTorchStep() {}

  /** Runs the script once; {@code work} holds its config file and logs. */
  public static Run run(Request r, Path work) {
    long expected = ParameterCount.of(r.entry().config()).total();
    String name = r.entry().name();
    try {
      Path script = script(work);
      Path config = Files.writeString(work.resolve(name + ".json"), ConfigJson.write(r.entry().config()));
      Path out = work.resolve(name + ".out");
      Path err = work.resolve(name + ".err");
      List<String> command = new ArrayList<>(List.of(r.python().toString(), script.toString(), config.toString(),
          "--batch", Integer.toString(r.batch()), "--steps", Integer.toString(r.steps()), "--repeats", "1",
          "--warmup", Integer.toString(WARMUP_STEPS), "--expect-params", Long.toString(expected), "--name", name));
      Process child;
      try {
        child = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
      } catch (IOException e) {
        throw new Failure("cannot start " + r.python() + " for the PyTorch reference of " + name + ": " + e.getMessage());
      }
      int code = waitFor(child, name);
      if (code != 0) {
        List<String> lines = Files.readAllLines(err);
        throw new Failure(r.python() + " failed on the PyTorch reference of " + name + " (exit " + code + "):\n"
            + String.join("\n", lines.subList(Math.max(0, lines.size() - TAIL_LINES), lines.size())));
      }
      return parse(Files.readAllLines(out), r.python(), name, expected);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write or read the PyTorch reference's files in " + work, e);
    }
  }

  private static int waitFor(Process child, String name) {
    try {
      return child.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      child.destroyForcibly();
      throw new Failure(name + ": interrupted while its PyTorch reference ran");
    }
  }

  /** The script's one JSON line, its parameter count checked once more (the script refuses another). */
  private static Run parse(List<String> stdout, Path python, String name, long expected) throws IOException {
    String last = stdout.isEmpty() ? "" : stdout.get(stdout.size() - 1);
    if (!last.startsWith("{")) {
      throw new Failure(python + " ran the PyTorch reference of " + name + " but printed no JSON line; its output ends: '" + last + "'");
    }
    JsonNode j = JSON.readTree(last);
    long parameters = j.path("parameters").asLong(-1);
    if (parameters != expected || !j.path("parameters_checked").asBoolean(false)) {
      throw new Failure("the PyTorch reference of " + name + " has " + parameters + " parameters, the project's model " + expected);
    }
    return new Run(parameters, j.path("median_ms").asDouble(), j.path("first_loss").asDouble(), j.path("peak_rss_bytes").asLong());
  }

  /** The script, copied out of the jar once into {@code work} (Python cannot read it inside the jar). */
  private static Path script(Path work) throws IOException {
    Path script = work.resolve(SCRIPT);
    if (!Files.exists(script)) {
      try (InputStream in = PyTorchStep.class.getResourceAsStream(SCRIPT)) {
        if (in == null) {
          throw new IllegalStateException(SCRIPT + " is not on the class path beside " + PyTorchStep.class.getName()
              + " (tools/pom.xml packs tools/src/main/python into the jar)");
        }
        Files.writeString(script, new String(in.readAllBytes(), StandardCharsets.UTF_8));
      }
    }
    return script;
  }
}
