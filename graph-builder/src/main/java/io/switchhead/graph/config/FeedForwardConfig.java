package io.switchhead.graph.config;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/** The feed-forward of every block: dense ReLU or sigma-MoE (SwitchAll). */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = DenseFeedForwardConfig.class, name = "dense"),
  @JsonSubTypes.Type(value = SigmaMoeConfig.class, name = "sigma-moe")
})
public sealed interface FeedForwardConfig permits DenseFeedForwardConfig, SigmaMoeConfig {}
