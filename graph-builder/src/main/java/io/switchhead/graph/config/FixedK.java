package io.switchhead.graph.config;

/** Every token uses all k chosen experts: the routers as the papers define them. */
public record FixedK() implements KRule {

  static final FixedK INSTANCE = new FixedK();
}
