package io.switchhead.graph.train;

/** Whether the forward+backward step runs as one XLA-compiled function. */
public enum XlaMode {
  /** Compile the step with XLA (must-compile: an op XLA cannot compile is an error). */
  ON,
  /** Run the plain graph op by op. */
  OFF,
  /** Time both on this machine for a few steps and keep the faster. */
  AUTO
}
