package io.switchhead.graph.train;

import java.util.EnumSet;
import java.util.Set;

/** How a training step's forward and backward run. */
public enum StepKind {
  /** The plain graph, op by op, with segmented experts (each expert on exactly its rows). */
  PLAIN("plain"),
  /**
   * The plain graph with the static-shape expert layouts that XLA steps use: to compare the layouts
   * apart from XLA's compiler (the segmented layout is the faster one in the plain graph).
   */
  PLAIN_STATIC_SHAPES("plain-static"),
  /** One must-compile XLA function over the parameter values (an op XLA cannot compile is an error). */
  XLA("xla");

  private final String label;

  StepKind(String label) {
    this.label = label;
  }

  /** A short name for tables and logs. */
  public String label() {
    return label;
  }

  public boolean compiled() {
    return this == XLA;
  }

  /** The steps a training run in {@code mode} builds: AUTO builds both to time them. */
  public static Set<StepKind> forMode(XlaMode mode) {
    return switch (mode) {
      case ON -> EnumSet.of(XLA);
      case OFF -> EnumSet.of(PLAIN);
      case AUTO -> EnumSet.of(PLAIN, XLA);
    };
  }
}
