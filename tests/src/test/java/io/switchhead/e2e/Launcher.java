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
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** Runs ./switchhead as a user does (or a main class, as a server would): a fresh process from the repository root, output captured. */
final class Launcher implements AutoCloseable {

  static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();

  /** Marks the end of the output in {@link #unread}; compared by identity. */
  @SuppressWarnings("StringOperationCanBeSimplified")
  private static final String END = new String("<end of output>");

  private final Process process;
  private final List<String> lines = new CopyOnWriteArrayList<>();
  private final BlockingQueue<String> unread = new LinkedBlockingQueue<>();
  private final Thread reader;

  private Launcher(Process process) {
    this.process = process;
    this.reader = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line = in.readLine(); line != null; line = in.readLine()) {
          lines.add(line);
          unread.add(line);
        }
      } catch (IOException e) {
        lines.add("<output lost: " + e + ">");
      } finally {
        unread.add(END);
      }
    });
    reader.setDaemon(true);
    reader.start();
  }

  /** Starts ./switchhead with the arguments, without TF_XLA_FLAGS in its environment (the launcher sets it). */
  static Launcher start(String... args) throws IOException {
    return start(Map.of(), args);
  }

  /**
   * As {@link #start}, with the JVM's just-in-time compiler stopped at its first tier (C1): the
   * launcher's default options (its {@code SWITCHHEAD_JAVA_OPTS}) plus
   * {@code -XX:TieredStopAtLevel=1}. A child that lives a few seconds spends most of them starting
   * up, and C2's compilations then cost about a quarter of its CPU time; for tests that start many
   * such children (kills and resumes) and are about what the process does, not how fast.
   */
  static Launcher startC1(String... args) throws IOException {
    return start(Map.of("SWITCHHEAD_JAVA_OPTS", "-Xss4m -Xmn64m -Djava.awt.headless=true -XX:TieredStopAtLevel=1"), args);
  }

  private static Launcher start(Map<String, String> environment, String... args) throws IOException {
    Path launcher = ROOT.resolve("switchhead");
    assertTrue(Files.isExecutable(launcher), "missing launcher " + launcher);
    List<String> command = new ArrayList<>(List.of(launcher.toString()));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).directory(ROOT.toFile()).redirectErrorStream(true);
    pb.environment().remove("TF_XLA_FLAGS");
    pb.environment().putAll(environment);
    return new Launcher(pb.start());
  }

  /**
   * Starts {@code main} in a fresh JVM on this JVM's class path (the test class path), so that it
   * shares nothing this process built or registered.
   */
  static Launcher java(Class<?> main, String... args) throws IOException {
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xss4m",
        "-cp", System.getProperty("java.class.path"), main.getName()));
    command.addAll(List.of(args));
    return new Launcher(new ProcessBuilder(command).directory(ROOT.toFile()).redirectErrorStream(true).start());
  }

  /** Runs to completion; returns the exit code. */
  int waitFor(long minutes) throws InterruptedException {
    assertTrue(process.waitFor(minutes, TimeUnit.MINUTES), "switchhead did not finish in " + minutes + " min:\n" + output());
    reader.join(10_000);
    return process.exitValue();
  }

  /**
   * Waits for the next line that matches (lines are consumed as they are read); fails with the output
   * if the process ends first or time runs out.
   */
  String awaitLine(Predicate<String> matches, long seconds) throws InterruptedException {
    return nextLine(matches, seconds).orElseThrow(() -> new AssertionError("switchhead ended before the expected line:\n" + output()));
  }

  /**
   * The next line that matches, or empty if the process ends first (lines are consumed as they are
   * read); fails with the output if time runs out.
   */
  Optional<String> nextLine(Predicate<String> matches, long seconds) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (true) {
      String line = unread.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      if (line == null) {
        throw new AssertionError("no expected line within " + seconds + " s:\n" + output());
      }
      if (line == END) {
        unread.add(END);
        return Optional.empty();
      }
      if (matches.test(line)) {
        return Optional.of(line);
      }
    }
  }

  boolean running() {
    return process.isAlive();
  }

  /** Whether the process is still running after {@code millis} more milliseconds. */
  boolean runsAfter(long millis) throws InterruptedException {
    return !process.waitFor(millis, TimeUnit.MILLISECONDS);
  }

  long pid() {
    return process.pid();
  }

  /**
   * SIGKILL, as an out-of-memory killer or a pulled plug would; returns the exit code (137 if the
   * signal ended the process, its own if it had ended before).
   */
  int kill() throws InterruptedException {
    process.destroyForcibly();
    assertTrue(process.waitFor(30, TimeUnit.SECONDS), "switchhead still runs 30 s after SIGKILL");
    reader.join(10_000); // every line it wrote is in output()
    return process.exitValue();
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
