package io.switchhead.graph.train;

/**
 * What one training step measured.
 *
 * @param loss the minimised loss (LM plus auxiliary)
 * @param lmLoss the mean token cross-entropy (nats)
 * @param gradientNorm the global gradient norm before clipping
 * @param usageEntropy per expert selection, in the order of {@link TrainingGraph#usageNames}
 * @param droppedShare per selection with a capacity, in the order of {@link TrainingGraph#droppedNames}
 * @param meanK per dynamic-k selection, in the order of {@link TrainingGraph#meanKSites}: the mean
 *     over tokens of the experts per head used (our dynamic-k design); empty without one
 */
public record StepMetrics(double loss, double lmLoss, double gradientNorm, double[] usageEntropy, double[] droppedShare, double[] meanK) {

  /** A step of a model without capacities or dynamic-k selections. */
  public StepMetrics(double loss, double lmLoss, double gradientNorm, double[] usageEntropy) {
    this(loss, lmLoss, gradientNorm, usageEntropy, new double[0], new double[0]);
  }
}
