package io.switchhead.graph.params;

import org.tensorflow.Operand;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * A table parameter [rows, width] that the model reads only by rows ({@link ParamScope#table}),
 * in one or more pieces; each read is recorded, so a training step differentiates the rows read
 * and updates just those (see {@link ParamStore#rowReads}).
 */
public final class RowTable<T extends TFloating> {

  private final ParamSource store;
  private final ParamSpec spec;

  RowTable(ParamSource store, ParamSpec spec) {
    this.store = store;
    this.spec = spec;
  }

  /** The rows at {@code ids} [..., width]: a gather of this piece's rows alone. */
  public Operand<T> rows(Operand<TInt32> ids) {
    return store.rows(spec, ids);
  }
}
