package io.switchhead.ops;

/** Whether a graph trains (dropout and expert dropout on) or evaluates and serves (both off). */
public enum Mode {
  TRAIN,
  EVAL;

  public boolean training() {
    return this == TRAIN;
  }
}
