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

  /**
   * Checks that this config can continue a run recorded with {@code recorded} that is at step
   * {@code nextStep}. A resume may extend the steps (not below {@code nextStep}) and change the
   * learning rate, the clip, the XLA mode and when it evaluates and saves; the batch, the seed,
   * the warm-up, the weight decay and the evaluation batches define the run (its data windows,
   * dropout masks, objective and comparable validation) and stay.
   *
   * <p>The learning rate then follows this config's {@link #schedule} from {@code nextStep} on: that
   * of a run started with these settings, so a resume killed later resumes the same way. A lower
   * {@code learningRate} scales every later step's rate; more {@code steps} stretch the cosine,
   * which raises the rate of the steps after {@code nextStep}.
   *
   * @throws IllegalArgumentException naming the setting that cannot change
   */
  public void checkContinues(TrainConfig recorded, long nextStep) {
    checkArgument(steps >= nextStep, "steps (%s) is below the step the run reached (%s): a resume can extend a run, not shorten it",
        steps, nextStep);
    requireKept("batch", batch, recorded.batch);
    requireKept("seed", seed, recorded.seed);
    requireKept("warm-up steps", warmupSteps, recorded.warmupSteps);
    requireKept("weight decay", weightDecay, recorded.weightDecay);
    requireKept("evaluation batches", evalBatches, recorded.evalBatches);
  }

  private static void requireKept(String setting, Object value, Object recorded) {
    checkArgument(value.equals(recorded), "a resumed run keeps its %s (%s), asked for %s", setting, recorded, value);
  }

  public LearningRateSchedule schedule() {
    return new LearningRateSchedule(learningRate, warmupSteps, steps, 0);
  }
}
