package io.switchhead.graph.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.train.Damage;
import io.switchhead.graph.train.TrainConfig;
import io.switchhead.graph.train.Trainer;
import io.switchhead.graph.train.XlaMode;
import io.switchhead.testing.Seeded;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GeneratorTest {

  @TempDir static Path dir;
  private static Path run;
  @Seeded private static Random random;

  /** Trains a tiny model on text of six letters and spaces, long enough to learn the alphabet. */
  @BeforeAll
  static void train() throws Exception {
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < 30000; i++) {
      text.append(random.nextInt(5) == 0 ? ' ' : (char) ('a' + random.nextInt(6)));
    }
    Path file = dir.resolve("letters.txt");
    Files.writeString(file, text);
    ModelConfig model = new ModelConfig(256, 32, 1, 16, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0),
        new DenseFeedForwardConfig(32), 0, 0.7);
    run = dir.resolve("run");
    try (Trainer trainer = Trainer.start(model, new TrainConfig(8, 60, 1e-2, 5, 1.0, 0, 3, XlaMode.OFF, 1000, 2, 1000, 1),
        Corpus.load(file), run)) {
      for (int i = 0; i < 60; i++) {
        trainer.step();
      }
      trainer.checkpoint();
    }
  }

  @Test
  void aTrainedModelWritesInTheAlphabetOfItsData() {
    try (Generator g = Generator.load(run, GeneratorTest::noWarning)) {
      int[] out = g.continueFrom(new int[] {'a', 'b', ' '}, 100, 0.8, 42);
      assertEquals(100, out.length);
      long inAlphabet = java.util.Arrays.stream(out).filter(c -> c == ' ' || (c >= 'a' && c <= 'f')).count();
      assertTrue(inAlphabet >= 90, "only " + inAlphabet + " of 100 bytes in [a-f ]: " + new String(out, 0, out.length));
    }
  }

  @Test
  void theSameSeedGivesTheSameTextAndPromptsLongerThanTheContextSlide() {
    int[] prompt = "abc def abc def abc def ab".chars().toArray(); // 26 > context 16
    try (Generator g = Generator.load(run, GeneratorTest::noWarning)) {
      assertArrayEquals(g.continueFrom(prompt, 20, 1.0, 7), g.continueFrom(prompt, 20, 1.0, 7));
      assertArrayEquals(g.continueFrom(prompt, 20, 0, 1), g.continueFrom(prompt, 20, 0, 2), "greedy ignores the seed");
    }
  }

  /** Loaded unverified, half a data file gave a model of zeros and garbage without a word. */
  @Test
  void aCheckpointWithATruncatedDataFileIsRefused(@TempDir Path copyDir) throws Exception {
    Path copy = Damage.copy(run, copyDir.resolve("run"));
    Path checkpoint = copy.resolve("checkpoints").resolve("step-000000060");
    Damage.truncate(Damage.dataFile(checkpoint), 0.5);
    List<String> warnings = new ArrayList<>();
    var error = assertThrows(IllegalArgumentException.class, () -> Generator.load(copy, warnings::add));
    assertTrue(error.getMessage().startsWith("no intact checkpoint in " + copy.resolve("checkpoints") + ": step-000000060: "
        + "variables.data-00000-of-00001 has "), error.getMessage());
    assertEquals(1, warnings.size(), warnings.toString());
  }

  @Test
  void badPromptsAreNamed() {
    try (Generator g = Generator.load(run, GeneratorTest::noWarning)) {
      var error = assertThrows(IllegalArgumentException.class, () -> g.continueFrom(new int[] {'a', 300}, 5, 1, 1));
      assertTrue(error.getMessage().contains("token 300 at position 1"), error.getMessage());
    }
    var missing = assertThrows(IllegalArgumentException.class, () -> Generator.load(dir.resolve("nowhere"), GeneratorTest::noWarning));
    assertTrue(missing.getMessage().contains("no complete checkpoint"), missing.getMessage());
  }

  /** Checkpoints here are intact: any warning about them is a failure. */
  static void noWarning(String warning) {
    fail("unexpected warning: " + warning);
  }
}
