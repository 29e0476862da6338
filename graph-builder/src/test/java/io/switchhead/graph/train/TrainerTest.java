package io.switchhead.graph.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.data.Corpus;
import io.switchhead.testing.Seeded;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TrainerTest {

  @TempDir Path dir;
  /** corpus() is static, so it takes the class's seed: each test of a run trains on the same text. */
  @Seeded private static long corpusSeed;
  @TempDir static Path sharedDir;
  private static final Map<Boolean, List<Double>> straightLosses = new HashMap<>();

  /** Steps of the uninterrupted plain run that the XLA steps and a resumed run must both repeat. */
  private static final int STRAIGHT_STEPS = 8;

  /**
   * The plain graph's losses of an uninterrupted run of {@link #STRAIGHT_STEPS} steps ({@code
   * config(STRAIGHT_STEPS, OFF)}) of {@link #tiny} or, with XL memory, {@link #tinyXl}: run once
   * for the class, compared with by the XLA test and the resume test.
   */
  private static synchronized List<Double> straight(boolean xlMemory) throws Exception {
    if (!straightLosses.containsKey(xlMemory)) {
      Path run = Files.createDirectories(sharedDir.resolve(xlMemory ? "xl" : "rope"));
      try (Trainer trainer = Trainer.start(xlMemory ? tinyXl() : tiny(), config(STRAIGHT_STEPS, XlaMode.OFF), corpus(run),
          run.resolve("straight"))) {
        straightLosses.put(xlMemory, List.copyOf(losses(trainer, STRAIGHT_STEPS)));
      }
    }
    return straightLosses.get(xlMemory);
  }

  /** A tiny SwitchAll model: SwitchHead attention and a sigma-MoE feed-forward. */
  static ModelConfig tiny() {
    return new ModelConfig(256, 16, 1, 8, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.1),
        new SigmaMoeConfig(4, 8, 2, 0.1, 1e-3), 0.1, 0.7);
  }

  /** The same with XL attention: memory carried from chunk to chunk through the state variables. */
  static ModelConfig tinyXl() {
    return new ModelConfig(256, 16, 2, 8, new SwitchHeadConfig(2, 3, 2, 8, Positional.XL, 0.1),
        new SigmaMoeConfig(4, 8, 2, 0.1, 1e-3), 0.1, 0.7);
  }

  static TrainConfig config(long steps, XlaMode xla) {
    return new TrainConfig(4, steps, 1e-2, Math.min(2, steps - 1), 1.0, 0.0, 99, xla, 1000, 2, 1000, 2);
  }

  /** Text with structure a tiny model can learn within a few dozen steps. */
  static Corpus corpus(Path dir) throws Exception {
    StringBuilder text = new StringBuilder();
    Random random = new Random(corpusSeed);
    String[] words = {"the ", "cat ", "sat ", "on ", "a ", "mat. "};
    for (int i = 0; i < 4000; i++) {
      text.append(words[random.nextInt(words.length)]);
    }
    Path file = dir.resolve("corpus.txt");
    Files.writeString(file, text, StandardCharsets.US_ASCII);
    return Corpus.load(file);
  }

  private static List<Double> losses(Trainer trainer, int steps) {
    List<Double> out = new ArrayList<>();
    for (int i = 0; i < steps; i++) {
      out.add(trainer.step().loss());
    }
    return out;
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void theLossFallsAndValidationIsMeasuredInBits(boolean xlMemory) throws Exception {
    Corpus corpus = corpus(dir);
    try (Trainer trainer = Trainer.start(xlMemory ? tinyXl() : tiny(), config(40, XlaMode.OFF), corpus, dir.resolve("run"))) {
      double before = trainer.evaluate();
      List<Double> losses = losses(trainer, 40);
      double after = trainer.evaluate();
      assertTrue(losses.get(39) < losses.get(0) * 0.7, "loss did not fall: " + losses);
      assertTrue(after < before - 1, "validation bpc did not fall: " + before + " -> " + after);
      assertTrue(before > 6 && before < 10, "an untrained byte model is near 8 bits: " + before);
    }
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void xlaCompiledStepsGiveThePlainLosses(boolean xlMemory) throws Exception {
    Corpus corpus = corpus(dir);
    ModelConfig model = xlMemory ? tinyXl() : tiny();
    List<Double> plain = straight(xlMemory);
    List<Double> xla;
    try (Trainer trainer = Trainer.start(model, config(STRAIGHT_STEPS, XlaMode.ON), corpus, dir.resolve("xla"))) {
      xla = losses(trainer, STRAIGHT_STEPS);
    }
    for (int i = 0; i < STRAIGHT_STEPS; i++) {
      assertEquals(plain.get(i), xla.get(i), 1e-4 * Math.abs(plain.get(i)), "step " + i + ": " + plain + " vs " + xla);
    }
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void resumingFromACheckpointRepeatsTheUninterruptedRun(boolean xlMemory) throws Exception {
    Corpus corpus = corpus(dir);
    ModelConfig model = xlMemory ? tinyXl() : tiny();
    List<Double> straight = straight(xlMemory);
    List<Double> resumed = new ArrayList<>();
    Path out = dir.resolve("interrupted");
    try (Trainer trainer = Trainer.start(model, config(STRAIGHT_STEPS, XlaMode.OFF), corpus, out)) {
      resumed.addAll(losses(trainer, 4));
      trainer.checkpoint();
      trainer.step(); // progress after the checkpoint is lost, as when a process is killed
    }
    try (Trainer trainer = Trainer.resume(out, corpus, TrainerTest::noWarning)) {
      assertEquals(4, trainer.nextStep());
      resumed.addAll(losses(trainer, STRAIGHT_STEPS - 4));
    }
    assertEquals(straight, resumed);
  }

  @Test
  void aNonFiniteLossStopsWithTheStepAndKeepsTheLastCheckpoint() throws Exception {
    Corpus corpus = corpus(dir);
    Path out = dir.resolve("diverging");
    // A learning rate of 1e30 sends the parameters, then the loss, to infinity within a few steps.
    TrainConfig wild = new TrainConfig(4, 50, 1e30, 0, 1.0, 0.0, 99, XlaMode.OFF, 1000, 2, 1000, 2);
    try (Trainer trainer = Trainer.start(tiny(), wild, corpus, out)) {
      trainer.checkpoint();
      NonFiniteException error = assertThrows(NonFiniteException.class, () -> {
        for (int i = 0; i < 50; i++) {
          trainer.step();
        }
      });
      assertTrue(error.getMessage().startsWith("step " + error.step() + ": "), error.getMessage());
      assertEquals(error.step(), trainer.nextStep(), "the failing step is not counted as done");
    }
    try (Trainer trainer = Trainer.resume(out, corpus, TrainerTest::noWarning)) {
      assertEquals(0, trainer.nextStep());
      assertTrue(Double.isFinite(trainer.evaluate()), "the checkpoint before divergence must load and evaluate");
    }
  }

  /** Starting over in a directory that holds a run would overwrite its checkpoints: refused, nothing touched. */
  @Test
  void aNewRunIsRefusedWhereARunAlreadySavedCheckpoints() throws Exception {
    Corpus corpus = corpus(dir);
    Path out = dir.resolve("taken");
    try (Trainer trainer = Trainer.start(tiny(), config(4, XlaMode.OFF), corpus, out)) {
      trainer.step();
      trainer.checkpoint();
    }
    Path manifest = out.resolve("checkpoints").resolve("manifest.json");
    byte[] before = java.nio.file.Files.readAllBytes(manifest);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Trainer.start(tiny(), config(4, XlaMode.OFF), corpus, out));
    assertTrue(e.getMessage().contains("already holds a run (latest checkpoint step-000000001)"), e.getMessage());
    assertTrue(java.util.Arrays.equals(before, java.nio.file.Files.readAllBytes(manifest)), "the manifest changed");
    try (Trainer resumed = Trainer.resume(out, corpus, warning -> {})) {
      assertEquals(1, resumed.nextStep(), "the refused start must leave the directory lockable and resumable");
    }
  }

  @Test
  void aCorpusWithTokensBeyondTheVocabularyIsRefused() throws Exception {
    ModelConfig small = new ModelConfig(100, 16, 1, 8, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0),
        new DenseFeedForwardConfig(8), 0, 0.7);
    var error = assertThrows(IllegalArgumentException.class, () -> Trainer.start(small, config(2, XlaMode.OFF), corpus(dir), dir.resolve("x")));
    assertTrue(error.getMessage().contains("vocabSize is 100"), error.getMessage());
  }

  /** Checkpoints here are intact: any warning about them is a failure. */
  static void noWarning(String warning) {
    fail("unexpected warning: " + warning);
  }
}
