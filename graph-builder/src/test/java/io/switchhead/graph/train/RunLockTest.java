package io.switchhead.graph.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.data.Corpus;
import io.switchhead.testing.Seeded;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One writer per run directory, within a JVM and across processes (a child JVM running {@link RunLockChild}). */
class RunLockTest {

  @TempDir Path dir;
  @Seeded private Random random;

  /** The refusal naming this process as the holder, its time of locking written as T. */
  private static String lockedByThisProcess(Path directory) throws IOException {
    return "run directory " + directory + " is locked by pid " + ProcessHandle.current().pid() + " on "
        + InetAddress.getLocalHost().getHostName() + " since T: another trainer is writing to it "
        + "(wait for it to end, or write to another directory)";
  }

  private static String withoutTime(String message) {
    return message.replaceFirst(" since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ:", " since T:");
  }

  /** Runs RunLockChild on dir in a fresh JVM: exit 0 if it took the lock (and released it), 2 if refused. */
  private ChildResult child() throws IOException, InterruptedException {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Process process = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"),
        RunLockChild.class.getName(), dir.toString()).redirectErrorStream(true).start();
    assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the child JVM did not finish");
    return new ChildResult(process.exitValue(), new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip());
  }

  private record ChildResult(int exitCode, String output) {}

  @Test
  void aSecondLockInTheSameJvmIsRefusedNamingTheHolder() throws Exception {
    try (RunLock first = RunLock.acquire(dir)) {
      var error = assertThrows(IllegalArgumentException.class, () -> RunLock.acquire(dir));
      assertEquals(lockedByThisProcess(dir), withoutTime(error.getMessage()));
    }
  }

  @Test
  void aRefusedSecondLockInTheSameJvmLeavesTheFirstHeldForOtherProcesses() throws Exception {
    try (RunLock first = RunLock.acquire(dir)) {
      assertThrows(IllegalArgumentException.class, () -> RunLock.acquire(dir));
      // Opening and closing the lock file in this process would have released the POSIX lock.
      ChildResult other = child();
      assertEquals(2, other.exitCode(), other.output());
      assertEquals(lockedByThisProcess(dir), withoutTime(other.output()));
    }
    ChildResult afterClose = child();
    assertEquals(0, afterClose.exitCode(), afterClose.output());
  }

  @Test
  void theLockOfADeadProcessIsTakenOverAndItsMarkerSwept() throws Exception {
    Files.writeString(dir.resolve(RunLock.FILE), "pid 999999 on elsewhere since 2020-01-01T00:00:00Z\n");
    Path staleMarker = Files.writeString(dir.resolve(RunLock.FILE + ".elsewhere-999999-1577836800000"), "pid 999999\n");
    try (RunLock taken = RunLock.acquire(dir)) {
      assertFalse(Files.exists(staleMarker));
      ChildResult other = child();
      assertTrue(other.output().contains("is locked by pid " + ProcessHandle.current().pid()), other.output());
    }
    assertEquals("", Files.readString(dir.resolve(RunLock.FILE)), "a released lock names no owner");
    assertEquals(List.of(dir.resolve(RunLock.FILE)), Files.list(dir).toList(), "no marker is left");
  }

  @Test
  void closingReleasesOnceAndTheDirectoryCanBeLockedAgain() {
    RunLock first = RunLock.acquire(dir.resolve("new/run"));
    first.close();
    first.close();
    try (RunLock again = RunLock.acquire(dir.resolve("new/run"))) {
      assertThrows(IllegalArgumentException.class, () -> RunLock.acquire(dir.resolve("new/../new/run")));
    }
  }

  @Test
  void aTrainerHoldsItsDirectoryUntilClosed() throws Exception {
    ModelConfig model = new ModelConfig(256, 16, 1, 8, new SwitchHeadConfig(2, 2, 1, 8, Positional.ROPE, 0.0),
        new DenseFeedForwardConfig(16), 0.0, 0.7);
    TrainConfig train = new TrainConfig(2, 2, 1e-2, 1, 1.0, 0.0, 1, XlaMode.OFF, 1000, 1, 1000, 1);
    byte[] text = new byte[2000];
    for (int i = 0; i < text.length; i++) {
      text[i] = (byte) ('a' + random.nextInt(26));
    }
    Corpus corpus = Corpus.load(Files.write(dir.resolve("corpus.txt"), text));
    Path out = dir.resolve("run");
    try (Trainer first = Trainer.start(model, train, corpus, out)) {
      first.checkpoint();
      var error = assertThrows(IllegalArgumentException.class, () -> Trainer.start(model, train, corpus, out));
      assertEquals(lockedByThisProcess(out), withoutTime(error.getMessage()));
      assertThrows(IllegalArgumentException.class, () -> Trainer.resume(out, corpus, warning -> {}));
    }
    try (Trainer resumed = Trainer.resume(out, corpus, warning -> {})) {
      assertEquals(0, resumed.nextStep());
    }
  }
}
