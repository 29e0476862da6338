package io.switchhead.graph.train;

/**
 * What one training step measured.
 *
 * @param loss the minimised loss (LM plus auxiliary)
 * @param lmLoss the mean token cross-entropy (nats)
 * @param gradientNorm the global gradient norm before clipping
 * @param usageEntropy per expert selection, in the order of {@link TrainingGraph#usageNames}
 * @param droppedShare per selection with a capacity, in the order of {@link TrainingGraph#droppedNames}
 */
public record StepMetrics(double loss, double lmLoss, double gradientNorm, double[] usageEntropy, double[] droppedShare) {

  /** A step of a model without capacities. */
  public StepMetrics(double loss, double lmLoss, double gradientNorm, double[] usageEntropy) {
    this(loss, lmLoss, gradientNorm, usageEntropy, new double[0]);
  }
}
