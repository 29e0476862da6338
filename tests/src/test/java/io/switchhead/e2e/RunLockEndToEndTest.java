package io.switchhead.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.train.Checkpoints;
import io.switchhead.graph.train.TensorBoardReader;
import io.switchhead.testing.Seeded;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One training process per run directory, with real processes through ./switchhead (their JIT at
 * C1: {@link Launcher#startC1}).
 */
class RunLockEndToEndTest {

  private static final String TINY_MODEL = """
      {"vocabSize": 256, "dModel": 32, "layers": 2, "context": 32,
       "attention": {"type": "switchhead", "heads": 2, "experts": 4, "k": 2, "headDim": 8, "positional": "ROPE", "expertDropout": 0.1,
         "kRule": {"type": "fixed"}},
       "feedForward": {"type": "dense", "hidden": 64}, "dropout": 0.1, "initScale": 0.7}
      """;

  @TempDir Path dir;
  @Seeded private Random random;

  /** `train` of the tiny model on a word corpus into out, a checkpoint and an evaluation every {@code every} steps. */
  private String[] train(Path out, int steps, int every, String... more) throws Exception {
    Path config = dir.resolve("tiny.json");
    Path data = dir.resolve("words.txt");
    if (!Files.exists(config)) {
      Files.writeString(config, TINY_MODEL);
      StringBuilder text = new StringBuilder();
      for (int i = 0; i < 15000; i++) {
        text.append(List.of("one ", "two ", "three ", "four, ", "five.\n").get(random.nextInt(5)));
      }
      Files.writeString(data, text);
    }
    List<String> args = new ArrayList<>(List.of("train", "--config", config.toString(), "--data", data.toString(),
        "--out", out.toString(), "--steps", String.valueOf(steps), "--batch", "4", "--eval-batches", "1", "--eval-every",
        String.valueOf(every), "--checkpoint-every", String.valueOf(every), "--xla", "off", "--no-progress"));
    args.addAll(List.of(more));
    return args.toArray(String[]::new);
  }

  private static long eventFiles(Path out) throws Exception {
    try (Stream<Path> files = Files.list(out.resolve("tensorboard"))) {
      return files.count();
    }
  }

  @Test
  void aSecondTrainOnTheSameOutIsRefusedNamingTheHolderAndTheFirstFinishesIntact() throws Exception {
    Path out = dir.resolve("shared");
    try (Launcher first = Launcher.startC1(train(out, 600, 100))) {
      first.awaitLine(line -> line.startsWith("checkpoint of step 100:"), 180);
      try (Launcher second = Launcher.startC1(train(out, 50, 10, "--lr", "1e-2"))) {
        assertEquals(2, second.waitFor(3), second.output());
        Pattern refusal = Pattern.compile("switchhead train: run directory " + Pattern.quote(out.toString()) + " is locked by pid "
            + first.pid() + " on \\S+ since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ: another trainer is writing to it "
            + "\\(wait for it to end, or write to another directory\\)");
        assertTrue(second.output().lines().anyMatch(line -> refusal.matcher(line).matches()), second.output());
      }
      assertEquals(0, first.waitFor(5), first.output());
    }
    assertEquals(600, TensorBoardReader.scalars(out.resolve("tensorboard"), "train/loss").size(), "every step of the first run is logged");
    assertEquals(1, eventFiles(out), "the refused run wrote no TensorBoard file");
    assertEquals("step-000000600", new Checkpoints(out, 3).manifest().orElseThrow().latest());
  }

  @Test
  void theStaleLockOfAKilledRunIsTakenOverByTheNextResume() throws Exception {
    Path out = dir.resolve("killed");
    long killedPid;
    // Killed after the checkpoint of step 40, with 80 steps and 4 checkpoints to go, which the resume then trains.
    try (Launcher run = Launcher.startC1(train(out, 120, 20))) {
      run.awaitLine(line -> line.startsWith("checkpoint of step 40:"), 180);
      killedPid = run.pid();
      run.kill();
    }
    assertTrue(Files.readString(out.resolve("run.lock")).startsWith("pid " + killedPid + " on "),
        "kill -9 leaves the lock file naming the dead process");
    // Only what a resume needs: what it may change is not this test's business.
    try (Launcher resumed = Launcher.startC1("train", "--out", out.toString(), "--data", dir.resolve("words.txt").toString(),
        "--resume", "--no-progress")) {
      assertEquals(0, resumed.waitFor(5), resumed.output());
      assertTrue(resumed.output().contains("resuming from step "), resumed.output());
    }
    assertEquals("", Files.readString(out.resolve("run.lock")), "the resumed run released its lock");
    try (Stream<Path> markers = Files.list(out).filter(p -> p.getFileName().toString().startsWith("run.lock."))) {
      assertEquals(List.of(), markers.toList(), "the dead process's marker was swept");
    }
  }
}
