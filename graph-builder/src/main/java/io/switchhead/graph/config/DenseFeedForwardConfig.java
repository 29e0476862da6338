package io.switchhead.graph.config;

import static com.google.common.base.Preconditions.checkArgument;

/**
 * Dense ReLU feed-forward: x W1 + b1 -> ReLU -> W2 + b2.
 *
 * @param hidden hidden width (d_ff), chosen per preset so parameter counts match
 */
public record DenseFeedForwardConfig(int hidden) implements FeedForwardConfig {

  public DenseFeedForwardConfig {
    checkArgument(hidden >= 1, "dense feed-forward: hidden (%s) must be >= 1", hidden);
  }
}
