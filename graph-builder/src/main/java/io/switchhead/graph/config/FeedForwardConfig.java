package io.switchhead.graph.config;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/** The feed-forward of the blocks: dense ReLU, sigma-MoE (SwitchAll), MH-MoE, PEER, or one of them per block. */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = DenseFeedForwardConfig.class, name = "dense"),
  @JsonSubTypes.Type(value = SigmaMoeConfig.class, name = "sigma-moe"),
  @JsonSubTypes.Type(value = MhMoeConfig.class, name = "mh-moe"),
  @JsonSubTypes.Type(value = PeerConfig.class, name = "peer"),
  @JsonSubTypes.Type(value = PerBlockFeedForwardConfig.class, name = "per-block")
})
public sealed interface FeedForwardConfig permits DenseFeedForwardConfig, SigmaMoeConfig, MhMoeConfig, PeerConfig, PerBlockFeedForwardConfig {

  /** The feed-forward of block {@code block} (from 0): this one, unless it differs by block. */
  default FeedForwardConfig forBlock(int block) {
    return this;
  }
}
