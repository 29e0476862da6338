package io.switchhead.graph.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.generate.Generator;
import io.switchhead.testing.Seeded;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a resume refuses before it writes anything. */
class ResumeTest {

  @TempDir Path dir;
  @Seeded private Random random;
  private Corpus corpus;
  private Path run;
  private final List<String> warnings = new ArrayList<>();

  /** 8 steps at lr 1e-2 (warm-up 2), stopped with a checkpoint at step 4. */
  @BeforeEach
  void halfARun() throws Exception {
    corpus = corpus("corpus.txt");
    run = dir.resolve("run");
    try (Trainer trainer = Trainer.start(twoLayers(), TrainerTest.config(8, XlaMode.OFF), corpus, run)) {
      for (int i = 0; i < 4; i++) {
        trainer.step();
      }
      trainer.checkpoint();
    }
  }

  private static ModelConfig twoLayers() {
    ModelConfig one = TrainerTest.tiny();
    return new ModelConfig(one.vocabSize(), one.dModel(), 2, one.context(), one.attention(), one.feedForward(), one.dropout(),
        one.initScale());
  }

  private Corpus corpus(String name) throws Exception {
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < 3000; i++) {
      text.append((char) ('a' + random.nextInt(5)));
    }
    Files.writeString(dir.resolve(name), text);
    return Corpus.load(dir.resolve(name));
  }

  /**
   * A state edited to fewer layers (in a manifest without digests, which would catch the edit) is
   * refused before anything is restored or written: TensorFlow alone would restore the first layer
   * of two and train on (or generate from it).
   */
  @Test
  void aStateThatDoesNotMatchTheCheckpointsVariablesIsRefused() throws Exception {
    Damage.forgetDigests(run);
    Path checkpoint = run.resolve("checkpoints").resolve("step-000000004");
    Damage.editState(checkpoint, "\"layers\" : 2", "\"layers\" : 1");
    Map<String, String> before = Damage.snapshot(run);
    var error = assertThrows(IllegalArgumentException.class, () -> Trainer.resume(run, corpus, warnings::add));
    assertTrue(error.getMessage().startsWith("checkpoint step-000000004 does not hold the variables of the model its state describes ("),
        error.getMessage());
    assertTrue(error.getMessage().contains("layers/1/"), error.getMessage());
    var generating = assertThrows(IllegalArgumentException.class, () -> Generator.load(run, warnings::add));
    assertEquals(error.getMessage().replaceFirst(" \\(.*", ""), generating.getMessage().replaceFirst(" \\(.*", ""));
    assertEquals(before, Damage.snapshot(run), "nothing in the run directory changed");
  }
}
