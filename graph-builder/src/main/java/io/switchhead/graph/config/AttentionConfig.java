package io.switchhead.graph.config;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/** The attention of every block: SwitchHead or a dense multi-head baseline. */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = SwitchHeadConfig.class, name = "switchhead"),
  @JsonSubTypes.Type(value = DenseAttentionConfig.class, name = "dense")
})
public sealed interface AttentionConfig permits SwitchHeadConfig, DenseAttentionConfig {

  /** Attention matrices per layer (H). */
  int heads();

  /** Channels per head of q, k and v (dh). */
  int headDim();

  Positional positional();
}
