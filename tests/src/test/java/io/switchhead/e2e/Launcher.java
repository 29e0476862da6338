package io.switchhead.e2e;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** Runs ./switchhead as a user does: a fresh process from the repository root, output captured. */
final class Launcher implements AutoCloseable {

  static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();

  private final Process process;
  private final List<String> lines = new CopyOnWriteArrayList<>();
  private final Thread reader;

  private Launcher(Process process) {
    this.process = process;
    this.reader = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line = in.readLine(); line != null; line = in.readLine()) {
          lines.add(line);
        }
      } catch (IOException e) {
        lines.add("<output lost: " + e + ">");
      }
    });
    reader.setDaemon(true);
    reader.start();
  }

  /** Starts ./switchhead with the arguments, without TF_XLA_FLAGS in its environment (the launcher sets it). */
  static Launcher start(String... args) throws IOException {
    Path launcher = ROOT.resolve("switchhead");
    assertTrue(Files.isExecutable(launcher), "missing launcher " + launcher);
    List<String> command = new ArrayList<>(List.of(launcher.toString()));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).directory(ROOT.toFile()).redirectErrorStream(true);
    pb.environment().remove("TF_XLA_FLAGS");
    return new Launcher(pb.start());
  }

  /** Runs to completion; returns the exit code. */
  int waitFor(long minutes) throws InterruptedException {
    assertTrue(process.waitFor(minutes, TimeUnit.MINUTES), "switchhead did not finish in " + minutes + " min:\n" + output());
    reader.join(10_000);
    return process.exitValue();
  }

  /** Waits until a line matches; fails with the output if the process ends first or time runs out. */
  String awaitLine(Predicate<String> matches, long seconds) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    int seen = 0;
    while (System.nanoTime() < deadline) {
      for (; seen < lines.size(); seen++) {
        if (matches.test(lines.get(seen))) {
          return lines.get(seen);
        }
      }
      if (!process.isAlive() && seen >= lines.size()) {
        reader.join(1000);
        if (seen >= lines.size()) {
          throw new AssertionError("switchhead exited (" + process.exitValue() + ") before the expected line:\n" + output());
        }
      }
      Thread.sleep(20);
    }
    throw new AssertionError("no expected line within " + seconds + " s:\n" + output());
  }

  long pid() {
    return process.pid();
  }

  /** SIGKILL, as an out-of-memory killer or a pulled plug would. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  String output() {
    return String.join("\n", lines);
  }

  /** Resident memory of the process in KiB, from /proc. */
  long residentKib() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid()), "status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    throw new IllegalStateException("no VmRSS for process " + pid());
  }

  @Override
  public void close() {
    process.destroyForcibly();
  }
}
