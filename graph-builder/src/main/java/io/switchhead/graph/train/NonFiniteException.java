package io.switchhead.graph.train;

import java.util.Locale;

/** The loss or the gradient of a step was NaN or infinite; the step's update was not applied. */
public final class NonFiniteException extends RuntimeException {

  private static final long serialVersionUID = 1L;
  private final long step;

  public NonFiniteException(long step, double loss, double gradientNorm) {
    super(String.format(Locale.ROOT, "step %d: the loss or the gradient norm is not finite (loss %s, gradient norm %s); "
        + "training stopped before applying it", step, loss, gradientNorm));
    this.step = step;
  }

  public long step() {
    return step;
  }
}
