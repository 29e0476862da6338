package io.switchhead.graph.train;

/** The loss or the gradient of a step was NaN or infinite; the step's update was not applied. */
public final class NonFiniteException extends RuntimeException {

  private static final long serialVersionUID = 1L;
  private final long step;

  public NonFiniteException(long step, String detail) {
    super("step " + step + ": the loss or the gradient norm is not finite; training stopped before applying it ("
        + firstLine(detail) + ")");
    this.step = step;
  }

  public long step() {
    return step;
  }

  private static String firstLine(String s) {
    int newline = s.indexOf('\n');
    return newline < 0 ? s : s.substring(0, newline);
  }
}
