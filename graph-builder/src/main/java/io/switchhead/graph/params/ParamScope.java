package io.switchhead.graph.params;

import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * A path prefix in a parameter store ({@code ParamStore.root()}): {@code root.child("layers").child(3).child("attention")}
 * names parameters {@code layers/3/attention/...}. Immutable; pass it to a layer with its inputs.
 */
public final class ParamScope {

  private final ParamSource store;
  private final String prefix;

  ParamScope(ParamSource store, String prefix) {
    this.store = store;
    this.prefix = prefix;
  }

  /** The scope one level down. */
  public ParamScope child(String name) {
    String path = prefix.isEmpty() ? name : prefix + "/" + name;
    ParamSpec.checkValidPath(path);
    return new ParamScope(store, path);
  }

  /** The scope one level down, named by an index (e.g. a layer number). */
  public ParamScope child(int index) {
    return child(Integer.toString(index));
  }

  /** This scope's path ("" at the root). */
  public String path() {
    return prefix;
  }

  /** Creates the float32 parameter {@code name} under this scope and returns its value. */
  public Operand<TFloat32> param(String name, Shape shape, Initializer initializer) {
    return param(name, shape, TFloat32.class, initializer);
  }

  /** Creates the parameter {@code name} under this scope and returns its value. */
  public <T extends TFloating> Operand<T> param(String name, Shape shape, Class<T> type, Initializer initializer) {
    String path = prefix.isEmpty() ? name : prefix + "/" + name;
    return store.get(new ParamSpec(path, shape, type, initializer));
  }

  /**
   * Creates the table parameter {@code name} [rows, width] and returns its rows at {@code ids}, [...,
   * width]: the only read of the table, so a training step can differentiate the rows read and
   * update just those (a sparse update of a large table) instead of the whole table.
   */
  public <T extends TFloating> Operand<T> rows(String name, Shape shape, Class<T> type, Initializer initializer, Operand<TInt32> ids) {
    return table(name, shape, type, initializer).rows(ids);
  }

  /**
   * Creates the table parameter {@code name} [rows, width], read only by rows, in as many pieces as
   * the layer likes ({@link RowTable#rows}): a layer can bound the rows that exist at once, and a
   * training step still sees one read (the pieces' ids and rows in order).
   */
  public <T extends TFloating> RowTable<T> table(String name, Shape shape, Class<T> type, Initializer initializer) {
    ParamSpec spec = new ParamSpec(pathOf(name), shape, type, initializer);
    store.table(spec);
    return new RowTable<>(store, spec);
  }

  /**
   * The value of the buffer {@code name} under this scope: model state that is not a parameter (a
   * BatchNorm's moving statistics), saved, exported and bound with the parameters, never
   * differentiated or counted as a parameter.
   */
  public <T extends TFloating> Operand<T> buffer(String name, Shape shape, Class<T> type, Initializer initializer) {
    return store.buffer(new ParamSpec(pathOf(name), shape, type, initializer));
  }

  /**
   * Declares the buffer {@code name} and asks the training step to move it a {@code rate} of the way
   * toward {@code target} (an exponential moving average), after its finiteness guard.
   */
  public <T extends TFloating> void trackBuffer(String name, Shape shape, Initializer initializer, Operand<T> target, double rate) {
    store.trackBuffer(new ParamSpec(pathOf(name), shape, target.type(), initializer), target, rate);
  }

  private String pathOf(String name) {
    return prefix.isEmpty() ? name : prefix + "/" + name;
  }

  /** Ops whose names carry this scope's path (for readable graphs). */
  public Ops ops() {
    return store.scopeOf(prefix);
  }
}
