package io.switchhead.graph.train;

import static com.google.common.base.Preconditions.checkArgument;

/**
 * Linear warm-up, then cosine decay to {@code floor} at {@code totalSteps} (SWITCHHEAD.md section 4:
 * cosine to 0, 4k warm-up for the large models). A pure function of the step, like nanoGPT's get_lr.
 *
 * @param peak the learning rate after warm-up
 * @param warmupSteps steps of linear increase from peak/warmupSteps to peak
 * @param totalSteps the step at which the cosine reaches the floor
 * @param floor the final learning rate
 */
public record LearningRateSchedule(double peak, long warmupSteps, long totalSteps, double floor) {

  public LearningRateSchedule {
    checkArgument(peak > 0 && Double.isFinite(peak), "learning rate (%s) must be positive", peak);
    checkArgument(warmupSteps >= 0, "warm-up steps (%s) must be >= 0", warmupSteps);
    checkArgument(totalSteps > warmupSteps, "total steps (%s) must exceed warm-up steps (%s)", totalSteps, warmupSteps);
    checkArgument(floor >= 0 && floor <= peak, "final learning rate (%s) must be in [0, %s]", floor, peak);
  }

  /** The learning rate of step {@code step} (0-based). */
  public double at(long step) {
    // 1) linear warm-up
    if (step < warmupSteps) {
      return peak * (step + 1) / warmupSteps;
    }
    // 2) past the end: the floor
    if (step >= totalSteps) {
      return floor;
    }
    // 3) cosine from peak to floor
    double progress = (double) (step - warmupSteps) / (totalSteps - warmupSteps);
    return floor + 0.5 * (peak - floor) * (1 + Math.cos(Math.PI * progress));
  }
}
