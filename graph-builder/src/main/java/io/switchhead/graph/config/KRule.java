package io.switchhead.graph.config;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/**
 * How many of a router's K_max = k chosen experts a token uses: all of them ({@link FixedK}), or a
 * number per token from the block's attention ({@link AttentionK}, our DA-MoE-style design).
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = FixedK.class, name = "fixed"),
  @JsonSubTypes.Type(value = AttentionK.class, name = "attention")
})
public sealed interface KRule permits FixedK, AttentionK {

  /** Every token uses all k: the routers as the papers define them. */
  static KRule fixed() {
    return FixedK.INSTANCE;
  }

  /** Whether K varies by token (and the layer needs the attention's importance). */
  default boolean dynamic() {
    return this instanceof AttentionK;
  }

  /**
   * Checks the rule against its router's k (K_max).
   *
   * @param where the router's config, for the message (e.g. "sigma-MoE")
   */
  default void check(String where, int kMax) {}
}
