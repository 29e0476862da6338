package io.switchhead.graph.train;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

/**
 * What a training graph is built for besides the model: the batch it takes, the seed its parameters
 * are initialised from, the optimiser and the global-norm clip of the gradients.
 */
public record StepSettings(int batch, long seed, AdamW optimizer, double gradientClip) {

  public StepSettings {
    checkArgument(batch >= 1, "batch (%s) must be >= 1", batch);
    checkNotNull(optimizer, "optimizer is missing");
    checkArgument(gradientClip > 0, "gradient clip (%s) must be positive", gradientClip);
  }

  /** The settings of a training run. */
  public static StepSettings of(TrainConfig train) {
    return new StepSettings(train.batch(), train.seed(), AdamW.paper(train.weightDecay()), train.gradientClip());
  }
}
