package io.switchhead.graph.train;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import io.switchhead.graph.config.ModelConfig;

/**
 * What a checkpoint saves beside the variables ({@code state.json}): where the run is, the configs
 * it runs with and the data it trains on. Read back, a state that cannot belong to a run (a
 * negative step, a step past the end) is refused here, so a checkpoint holding one counts as
 * damaged.
 *
 * @param nextStep the step a resume runs first, in [0, train.steps()]
 * @param data the source of the corpus ({@code Corpus.source()})
 */
public record RunState(long nextStep, ModelConfig model, TrainConfig train, String data) {

  public RunState {
    checkNotNull(model, "the model config is missing");
    checkNotNull(train, "the training config is missing");
    checkNotNull(data, "the data source is missing");
    checkArgument(nextStep >= 0, "nextStep (%s) is negative", nextStep);
    checkArgument(nextStep <= train.steps(), "nextStep (%s) is past the end of the run (steps = %s)", nextStep, train.steps());
  }

  /** The run reached its last step: a resume has nothing to do unless it extends the steps. */
  public boolean finished() {
    return nextStep >= train.steps();
  }
}
