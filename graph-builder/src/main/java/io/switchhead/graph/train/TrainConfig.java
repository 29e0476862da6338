package io.switchhead.graph.train;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

/**
 * How to train (the model is a {@link io.switchhead.graph.config.ModelConfig}).
 *
 * @param batch sequences per step
 * @param steps total optimisation steps (the cosine reaches 0 here)
 * @param learningRate peak learning rate after warm-up
 * @param warmupSteps linear warm-up steps
 * @param gradientClip global-norm clipping threshold (kappa: 0.1 small / 0.25 large in the paper)
 * @param weightDecay AdamW's decoupled decay (0 in the paper)
 * @param seed parameters, data windows and dropout all derive from it
 * @param xla ON, OFF, or AUTO (time both, keep the faster)
 * @param evalEvery steps between validation measurements (and at the end)
 * @param evalBatches validation batches per measurement (fixed windows: comparable across steps)
 * @param checkpointEvery steps between checkpoints (and at the end)
 * @param keepCheckpoints how many recent checkpoints to keep
 */
public record TrainConfig(
    int batch,
    long steps,
    double learningRate,
    long warmupSteps,
    double gradientClip,
    double weightDecay,
    long seed,
    XlaMode xla,
    int evalEvery,
    int evalBatches,
    int checkpointEvery,
    int keepCheckpoints) {

  public TrainConfig {
    checkArgument(batch >= 1, "batch (%s) must be >= 1", batch);
    checkArgument(steps >= 1, "steps (%s) must be >= 1", steps);
    checkArgument(learningRate > 0, "learning rate (%s) must be positive", learningRate);
    checkArgument(warmupSteps >= 0 && warmupSteps < steps, "warm-up steps (%s) must be in [0, steps = %s)", warmupSteps, steps);
    checkArgument(gradientClip > 0, "gradient clip (%s) must be positive", gradientClip);
    checkArgument(weightDecay >= 0, "weight decay (%s) must be >= 0", weightDecay);
    checkNotNull(xla, "xla mode is missing (ON, OFF or AUTO)");
    checkArgument(evalEvery >= 1, "evalEvery (%s) must be >= 1", evalEvery);
    checkArgument(evalBatches >= 1, "evalBatches (%s) must be >= 1", evalBatches);
    checkArgument(checkpointEvery >= 1, "checkpointEvery (%s) must be >= 1", checkpointEvery);
    checkArgument(keepCheckpoints >= 1, "keepCheckpoints (%s) must be >= 1", keepCheckpoints);
  }

  /** Defaults for the small CPU models: Adam as the paper, a shorter warm-up, a looser clip. */
  public static TrainConfig small(long steps) {
    return new TrainConfig(16, steps, 2e-3, Math.min(100, steps / 10), 0.25, 0.0, 1234, XlaMode.AUTO,
        (int) Math.max(1, Math.min(250, steps)), 16, (int) Math.max(1, Math.min(500, steps)), 3);
  }

  public LearningRateSchedule schedule() {
    return new LearningRateSchedule(learningRate, warmupSteps, steps, 0);
  }
}
