package io.switchhead.tools.bench;

import com.google.common.io.MoreFiles;
import com.google.common.io.RecursiveDeleteOption;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.train.TrainConfig;
import io.switchhead.graph.train.Trainer;
import io.switchhead.graph.train.XlaMode;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A model trained a given number of steps as {@code train} would train it (the small models'
 * defaults: {@link TrainConfig#small}), the plain graph, in a scratch directory deleted afterwards,
 * for its validation bpc. Every model of a comparison sees the same data windows in the same order
 * (the same seed) and the same validation batches.
 */
public final class QualityRun {

  /** What the run ended with; the time is of the whole run, evaluations and checkpoints included. */
  public record Quality(double validationBpc, double tokensPerSecond, double seconds) {}

  private QualityRun() {}

  static Quality train(ModelConfig model, int batch, long steps, Corpus corpus) {
    TrainConfig defaults = TrainConfig.small(steps);
    TrainConfig train = new TrainConfig(batch, steps, defaults.learningRate(), defaults.warmupSteps(), defaults.gradientClip(),
        defaults.weightDecay(), defaults.seed(), XlaMode.OFF, (int) steps, defaults.evalBatches(), (int) steps, 1);
    Path scratch = ScratchDirectory.create("switchhead-compare-", "the quality runs");
    try (Trainer trainer = Trainer.start(model, train, corpus, scratch)) {
      Trainer.Summary s = trainer.run(new Trainer.Listener() {});
      return new Quality(s.validationBpc(), s.tokensPerSecond(), s.seconds());
    } finally {
      try {
        MoreFiles.deleteRecursively(scratch, RecursiveDeleteOption.ALLOW_INSECURE);
      } catch (IOException e) {
        System.err.println("bench compare: could not delete the scratch directory " + scratch + ": " + e.getMessage());
      }
    }
  }
}
