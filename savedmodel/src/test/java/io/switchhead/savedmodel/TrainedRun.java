package io.switchhead.savedmodel;

import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.train.TrainConfig;
import io.switchhead.graph.train.Trainer;
import io.switchhead.graph.train.XlaMode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A run directory trained in this JVM, a step and a checkpoint at a time, on random letters: what
 * the export tests export. Shared with the end-to-end tests (the tests module reads this module's
 * test jar).
 *
 * @param run the run directory
 * @param checkpoints the checkpoint directories, oldest first; the one of step s is {@code checkpoints.get(s - 1)}
 */
public record TrainedRun(ModelConfig model, Path run, List<Path> checkpoints) {

  /** The newest checkpoint, the one an export without {@code --checkpoint} takes. */
  public Path latest() {
    return checkpoints.get(checkpoints.size() - 1);
  }

  /**
   * Trains {@code model} for {@code steps} steps in {@code dir/run}, saving after each and keeping
   * them all, on 3,000 letters of {@code random} written to {@code dir/corpus.txt}.
   */
  public static TrainedRun train(ModelConfig model, Path dir, Random random, int steps) {
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < 3000; i++) {
      text.append((char) ('a' + random.nextInt(8)));
    }
    Path run = dir.resolve("run");
    // batch 2, a high rate, no warm-up: two steps move the weights off their initial values
    TrainConfig train = new TrainConfig(2, steps, 1e-2, 0, 1.0, 0.0, 5, XlaMode.OFF, 1000, 1, 1000, steps);
    List<Path> checkpoints = new ArrayList<>();
    try (Trainer trainer = Trainer.start(model, train, Corpus.load(Files.writeString(dir.resolve("corpus.txt"), text)), run)) {
      for (int s = 0; s < steps; s++) {
        trainer.step();
        checkpoints.add(trainer.checkpoint());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new TrainedRun(model, run, List.copyOf(checkpoints));
  }
}
