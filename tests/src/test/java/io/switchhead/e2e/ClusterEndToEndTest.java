package io.switchhead.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.train.Checkpoints;
import io.switchhead.graph.train.TensorBoardReader;
import io.switchhead.testing.Seeded;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.SortedMap;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code train --cluster}: two worker JVMs on loopback, task 0 the chief, give the losses of one
 * process on two devices; a worker killed mid-run stops the chief with an error naming it, its last
 * checkpoint intact, and the restarted cluster resumes to the uninterrupted run's losses. The
 * processes' JIT stops at C1 ({@link Launcher#startC1}): seven start-ups, on two cores.
 */
class ClusterEndToEndTest {

  private static final int STEPS = 30;
  private static final int EVERY = 5;

  @TempDir Path dir;
  @Seeded private Random random;

  private Path config;
  private Path data;

  @BeforeEach
  void writeModelAndCorpus() throws IOException {
    config = TinyRun.config(dir);
    data = TinyRun.corpus(dir, random);
  }

  @Test
  void twoTasksTrainAsTwoDevicesAndAKilledWorkerStopsTheChiefForAResume() throws Exception {
    Path straight = dir.resolve("straight");
    Path cluster = clusterFile("straight.json");
    try (Launcher worker = worker(cluster); Launcher chief = chief(straight, cluster)) {
      assertEquals(0, chief.waitFor(5), chief.output());
      assertEquals(0, worker.waitFor(1), "the worker ends once the chief has gone:\n" + worker.output());
    }
    SortedMap<Long, Float> expected = twoDevices();
    SortedMap<Long, Float> losses = TensorBoardReader.scalars(straight.resolve("tensorboard"), "train/loss");
    assertEquals(STEPS, expected.size());
    assertEquals(expected.keySet(), losses.keySet());
    expected.forEach((step, loss) -> assertEquals(loss, losses.get(step), 1e-5 * Math.abs(loss), "train loss of step " + step));

    Path interrupted = dir.resolve("interrupted");
    cluster = clusterFile("interrupted.json");
    String task1 = "task 1 (" + Files.readString(cluster).replaceAll(".*\"(127\\.0\\.0\\.1:\\d+)\"\\]}", "$1") + ")";
    try (Launcher worker = worker(cluster); Launcher chief = chief(interrupted, cluster)) {
      // Killed after the first checkpoint, with 25 steps and 5 checkpoints still to go (the chief fails within a second).
      chief.awaitLine(line -> line.startsWith("checkpoint of step " + EVERY + ":"), 120);
      worker.kill();
      assertEquals(4, chief.waitFor(2), chief.output());
      assertTrue(chief.output().contains("switchhead train: " + task1 + " of " + cluster + " failed: "), chief.output());
      assertTrue(chief.output().contains("resume from it: --out " + interrupted + " --resume"), chief.output());
    }
    List<String> warnings = new ArrayList<>();
    long last = Checkpoints.latestVerified(interrupted, warnings::add).state().nextStep();
    assertEquals(List.of(), warnings, "the newest checkpoint verifies");
    assertTrue(last >= EVERY && last < STEPS, "the last verified checkpoint is of step " + last);

    cluster = clusterFile("resumed.json");
    try (Launcher worker = worker(cluster); Launcher chief = chief(interrupted, cluster, "--resume")) {
      assertEquals(0, chief.waitFor(5), chief.output());
      assertTrue(chief.output().contains("resuming from step " + last), chief.output());
      assertEquals(0, worker.waitFor(1), worker.output());
    }
    SortedMap<Long, Float> resumed = TensorBoardReader.scalars(interrupted.resolve("tensorboard"), "train/loss");
    assertEquals(losses, resumed, "a resumed cluster run repeats the uninterrupted one");
  }

  /** The losses of one process on two devices, the same run otherwise. */
  private SortedMap<Long, Float> twoDevices() throws Exception {
    Path out = dir.resolve("devices");
    try (Launcher run = Launcher.startC1(TinyRun.train(config, data, out, STEPS, EVERY, "--devices", "2"))) {
      assertEquals(0, run.waitFor(5), run.output());
    }
    return TensorBoardReader.scalars(out.resolve("tensorboard"), "train/loss");
  }

  private static Launcher worker(Path cluster) throws IOException {
    return Launcher.startC1("train", "--cluster", cluster.toString(), "--task", "1");
  }

  private Launcher chief(Path out, Path cluster, String... extra) throws IOException {
    String[] args = new String[extra.length + 4];
    args[0] = "--cluster";
    args[1] = cluster.toString();
    args[2] = "--task";
    args[3] = "0";
    System.arraycopy(extra, 0, args, 4, extra.length);
    return Launcher.startC1(TinyRun.train(config, data, out, STEPS, EVERY, args));
  }

  /** Two tasks on loopback, at ports free now. */
  private Path clusterFile(String name) throws IOException {
    return Files.writeString(dir.resolve(name), "{\"worker\": [\"127.0.0.1:" + freePort() + "\", \"127.0.0.1:" + freePort() + "\"]}");
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}
