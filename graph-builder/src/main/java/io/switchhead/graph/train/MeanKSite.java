package io.switchhead.graph.train;

import static com.google.common.base.Preconditions.checkArgument;

/**
 * A dynamic-k expert selection (our design) whose mean K a training step reports.
 *
 * @param name the selection's parameter path, e.g. {@code layers/0/attention/sel_v}
 * @param kMax the k it selects before masking: a fixed-k router's cost
 */
public record MeanKSite(String name, int kMax) {

  public MeanKSite {
    checkArgument(kMax >= 1, "%s: kMax (%s) must be >= 1", name, kMax);
  }

  /** The share of expert slots (so of expert matmul work, were masked slots skipped) saved against fixed K_max. */
  public double computeSaved(double meanK) {
    return 1 - meanK / kMax;
  }
}
