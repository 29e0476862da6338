package io.switchhead.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The README's main-job launcher, run as a user runs it: a fresh process from the repository root. */
class LauncherTest {

  static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();

  /** Runs ./switchhead with arguments, with an environment that lacks TF_XLA_FLAGS; returns rc and output. */
  static ProcessResult launch(String... args) throws IOException, InterruptedException {
    Path launcher = ROOT.resolve("switchhead");
    assertTrue(Files.isExecutable(launcher), "missing launcher " + launcher);
    ProcessBuilder pb = new ProcessBuilder(new java.util.ArrayList<>(List.of(launcher.toString())));
    pb.command().addAll(List.of(args));
    pb.environment().remove("TF_XLA_FLAGS");
    pb.redirectErrorStream(true);
    Process p = pb.directory(ROOT.toFile()).start();
    byte[] out = p.getInputStream().readAllBytes();
    assertTrue(p.waitFor(5, TimeUnit.MINUTES), "launcher did not finish");
    return new ProcessResult(p.exitValue(), new String(out, StandardCharsets.UTF_8));
  }

  record ProcessResult(int exitCode, String output) {}

  @Test
  void withNoArgumentsItPrintsTheHelp() throws Exception {
    ProcessResult r = launch();
    assertEquals(0, r.exitCode(), r.output());
    assertTrue(r.output().contains("Usage: switchhead"), r.output());
  }

  @Test
  void infoShowsTensorFlowAndWorkingXla() throws Exception {
    ProcessResult r = launch("info");
    assertEquals(0, r.exitCode(), r.output());
    assertTrue(r.output().contains("TensorFlow 2.18"), r.output());
    assertTrue(r.output().contains("XLA must-compile functions: work"), r.output());
    // The launcher sets the flag the native library reads at load time.
    assertTrue(r.output().contains("XLA CPU auto-clustering: enabled"), r.output());
  }
}
