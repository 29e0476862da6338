package io.switchhead.graph.params;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * What a {@link ParamScope} asks of the store it is a path into: a parameter's value, and ops named
 * under a path. {@link ParamStore} is the one implementation; the interface keeps the scope from
 * depending on the store that creates it.
 */
interface ParamSource {

  /** The value of the parameter {@code spec}, created on first request. */
  <T extends TFloating> Operand<T> get(ParamSpec spec);

  /**
   * Creates the table parameter {@code spec} [rows, width], to be read only by {@link #rows}.
   */
  void table(ParamSpec spec);

  /**
   * The rows at {@code ids} [..., width] of the table {@code spec}, one piece of its read; a
   * training step may differentiate the rows read instead of the table (see {@link
   * ParamStore#rowReads}).
   */
  <T extends TFloating> Operand<T> rows(ParamSpec spec, Operand<TInt32> ids);

  /** The value of the buffer {@code spec} (not a parameter: never differentiated), created on first request. */
  <T extends TFloating> Operand<T> buffer(ParamSpec spec);

  /**
   * Declares the buffer {@code spec} and asks the training step to move it toward {@code target}:
   * {@code buffer -= rate * (buffer - target)}.
   */
  <T extends TFloating> void trackBuffer(ParamSpec spec, Operand<T> target, double rate);

  /** Ops whose names carry {@code path} (one cached name scope per path). */
  Ops scopeOf(String path);
}
