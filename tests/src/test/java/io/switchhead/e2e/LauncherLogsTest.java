package io.switchhead.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TensorFlow's native log lines (absl's info and warnings, which no environment variable quiets)
 * stay out of a user's terminal unless they ask with --verbose; the launcher's filter loses nothing
 * else, and neither the exit code nor the last line on stderr.
 */
class LauncherLogsTest {

  /** absl's log line prefix, severity info or warning: "I0000 00:00:1796112548.744448    2072 file.cc:401] ". */
  private static final Pattern ABSL_LINE = Pattern.compile("(?m)^[IW]\\d{4} [0-9:.]+ +\\d+ [^ ]+:\\d+\\] ");
  private static final String ABSL_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR";
  /** What an XLA training step logs once per routed layer. */
  private static final String XLA_ASSERT = "Ignoring Assert operator";

  @TempDir Path dir;

  /** Two XLA steps of a one-layer SwitchHead model: TensorFlow logs at start-up and per layer when compiling. */
  private String[] twoXlaSteps() throws Exception {
    return tinyRun(2, "--xla", "on", "--no-progress");
  }

  private String[] tinyRun(int steps, String... more) throws Exception {
    ModelConfig c = new ModelConfig(256, 32, 1, 32, new SwitchHeadConfig(2, 4, 2, 8, Positional.ROPE, 0.0),
        new DenseFeedForwardConfig(64), 0.0, 0.7);
    Path config = Files.writeString(dir.resolve("tiny.json"), ConfigJson.write(c));
    Path data = Files.writeString(dir.resolve("text.txt"), "the quick brown fox jumps over the lazy dog. ".repeat(100));
    List<String> args = new ArrayList<>(List.of("train", "--config", config.toString(), "--data", data.toString(),
        "--out", dir.resolve("run").toString(), "--steps", Integer.toString(steps), "--batch", "2", "--eval-every", "2",
        "--eval-batches", "1", "--checkpoint-every", Integer.toString(steps)));
    args.addAll(List.of(more));
    return args.toArray(new String[0]);
  }

  /**
   * The progress bar redraws one line of stderr with carriage returns and ends it only when the run
   * ends, so the filter must pass text before a line is complete: the bar is seen while steps run.
   */
  @Test
  void theProgressBarReachesTheTerminalWhileTheRunGoesOn() throws Exception {
    try (Launcher l = Launcher.start(tinyRun(100_000, "--xla", "off"))) {
      l.awaitLine(line -> line.matches(".*train +\\d+%.*"), 120);
      assertTrue(l.running(), "the bar arrived only when the run ended:\n" + l.output());
    }
  }

  @Test
  void aTrainingRunShowsNoTensorFlowLogLinesByDefault() throws Exception {
    try (Launcher l = Launcher.start(twoXlaSteps())) {
      assertEquals(0, l.waitFor(5), l.output());
      String out = l.output();
      assertTrue(out.contains("done: 2 steps") && out.contains("XLA"), out);
      assertFalse(ABSL_LINE.matcher(out).find() || out.contains(ABSL_NOTICE) || out.contains(XLA_ASSERT), out);
    }
  }

  /** Before the subcommand, --verbose is checked by {@link #aFailingCommandKeepsItsExitCodeAndItsLastLineOnStderr}. */
  @Test
  void verboseShowsThem() throws Exception {
    try (Launcher l = Launcher.start("info", "--verbose")) {
      assertEquals(0, l.waitFor(5), l.output());
      assertTrue(l.output().contains("XLA must-compile functions: work"), l.output());
      assertTrue(l.output().contains(ABSL_NOTICE) && ABSL_LINE.matcher(l.output()).find(), l.output());
    }
  }

  /**
   * The java process is the launcher's (exec), so a caller sees it exit before the filter's last
   * lines are written unless java waits for the filter; stderr to a file, read at once, shows that.
   * With --verbose before the subcommand, there is no filter, and the command line accepts it there.
   */
  @Test
  void aFailingCommandKeepsItsExitCodeAndItsLastLineOnStderr() throws Exception {
    for (String verbose : List.of("", "--verbose")) {
      for (int run = 0; run < 2; run++) {
        List<String> command = new ArrayList<>(List.of(Launcher.ROOT.resolve("switchhead").toString()));
        if (!verbose.isEmpty()) {
          command.add(verbose);
        }
        command.addAll(List.of("train", "--preset", "nope"));
        Path out = dir.resolve("out.txt");
        Path err = dir.resolve("err.txt");
        Process p = new ProcessBuilder(command).directory(Launcher.ROOT.toFile())
            .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), command.toString());
        String stderr = Files.readString(err);
        assertEquals(2, p.exitValue(), command + ": " + stderr);
        assertTrue(stderr.startsWith("switchhead train: unknown preset 'nope'"), command + ": " + stderr);
        assertEquals("", Files.readString(out), command.toString());
      }
    }
  }
}
