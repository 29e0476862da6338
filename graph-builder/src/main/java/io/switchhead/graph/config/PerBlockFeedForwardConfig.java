package io.switchhead.graph.config;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

/**
 * Feed-forwards that differ by block: {@code special} in blocks {@code first}, {@code first +
 * every}, ... and {@code regular} in the others. MH-MoE replaces every second block's feed-forward
 * (first 1, every 2), PEER the middle block's (first L/2, every L). The model checks that
 * {@code first} names a block it has.
 *
 * @param special the feed-forward of the chosen blocks
 * @param regular the feed-forward of every other block
 * @param first the first chosen block, from 0
 * @param every the distance between chosen blocks
 */
public record PerBlockFeedForwardConfig(FeedForwardConfig special, FeedForwardConfig regular, int first, int every)
    implements FeedForwardConfig {

  public PerBlockFeedForwardConfig {
    checkNotNull(special, "per-block feed-forward: special is missing");
    checkNotNull(regular, "per-block feed-forward: regular is missing");
    checkArgument(!(special instanceof PerBlockFeedForwardConfig) && !(regular instanceof PerBlockFeedForwardConfig),
        "per-block feed-forward: special and regular must be single feed-forwards, not per-block ones");
    checkArgument(first >= 0, "per-block feed-forward: first (%s) must be >= 0", first);
    checkArgument(every >= 1, "per-block feed-forward: every (%s) must be >= 1", every);
  }

  @Override
  public FeedForwardConfig forBlock(int block) {
    checkArgument(block >= 0, "block (%s) must be >= 0", block);
    return block >= first && (block - first) % every == 0 ? special : regular;
  }
}
