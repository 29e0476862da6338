package io.switchhead.graph.train;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import io.switchhead.graph.config.ModelConfig;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.List;

/**
 * What a checkpoint saves beside the variables ({@code state.json}): where the run is, the configs
 * it runs with (a resume may have changed some training settings: these are the effective ones)
 * and the data it trains on. Read back, a state that cannot belong to a run (a negative step, a
 * step past the end) is refused here, so a checkpoint holding one counts as damaged.
 *
 * @param nextStep the step a resume runs first, in [0, train.steps()]
 * @param data the source of the corpus ({@code Corpus.source()}): what a resume trains on unless
 *     it is told to change
 * @param dataChanges the resumes that changed the data, oldest first (empty in states written
 *     before it was recorded)
 * @param validationBpc the validation bits per token last measured up to this step; null if none
 *     was (or in states written before it was recorded)
 */
public record RunState(long nextStep, ModelConfig model, TrainConfig train, String data, List<DataChange> dataChanges,
    Double validationBpc) {

  /** A resume that trained on other data from {@code step} on. */
  public record DataChange(long step, String from, String to) {}

  public RunState {
    checkNotNull(model, "the model config is missing");
    checkNotNull(train, "the training config is missing");
    checkNotNull(data, "the data source is missing");
    checkArgument(nextStep >= 0, "nextStep (%s) is negative", nextStep);
    checkArgument(nextStep <= train.steps(), "nextStep (%s) is past the end of the run (steps = %s)", nextStep, train.steps());
    dataChanges = dataChanges == null ? List.of() : List.copyOf(dataChanges);
  }

  /** The run reached its last step: a resume has nothing to do unless it extends the steps. */
  public boolean finished() {
    return nextStep >= train.steps();
  }

  /**
   * Whether {@code source} names the data this run trains on: the same text, or the same file once
   * both are made absolute against the working directory (a state records what it was given).
   */
  public boolean trainsOn(String source) {
    if (data.equals(source)) {
      return true;
    }
    try {
      return Path.of(data).toAbsolutePath().normalize().equals(Path.of(source).toAbsolutePath().normalize());
    } catch (InvalidPathException e) {
      return false; // not both paths: different sources
    }
  }
}
