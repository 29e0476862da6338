package io.switchhead.graph.params;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkState;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.OperationBuilder;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Operands;
import org.tensorflow.op.Ops;
import org.tensorflow.op.Scope;
import org.tensorflow.op.core.Identity;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * Every parameter of a model, by path, in creation order (the order of gradients, checkpoints and
 * exports). Layers ask for a parameter's value with {@link #get}; what that value is depends on how
 * the store binds parameters:
 *
 * <ul>
 *   <li>{@link #variables}: a VariableV2 per parameter, named by its path, given its initializer's
 *       value by {@link #initialize} (the one way to initialise a store's variables), and read
 *       through {@code identity} (a Square or Log1p straight on a VariableV2 crashes TensorFlow Java
 *       1.1.0 while building gradients);
 *   <li>{@link #arguments}: a placeholder per parameter, for building the model inside a graph
 *       function (e.g. an XLA-compiled training step) that receives parameter values as inputs.
 * </ul>
 *
 * <p>Creating a parameter twice is an error naming the path (no silent renaming, no sharing by
 * name: share a parameter by passing its value).
 *
 * <p>Besides parameters the store holds <em>buffers</em> ({@link #buffer}, {@link #trackBuffer}):
 * model state such as BatchNorm moving statistics, bound and saved like parameters but never
 * differentiated, counted or updated by AdamW (a training step moves them toward the targets the
 * forward recorded); and it records each <em>row read</em> of a table parameter ({@link #rows}), so a
 * training step can differentiate the rows read and update only those.
 */
public final class ParamStore implements ParamSource {

  /** One bound parameter: its spec, its value in the graph, and (for variables) the variable. */
  public record Param(ParamSpec spec, Operand<? extends TFloating> value, Variable<? extends TFloating> variable) {}

  /**
   * The read of a table parameter by rows: {@code rows = table[ids]}, gathered in one or more
   * pieces (a layer that bounds its gathers' memory reads a batch chunk by chunk).
   *
   * @param ids [M] the rows read, in [0, table rows), repeats allowed: the pieces' ids in order
   * @param rows the pieces [M_c, width] (M = sum of M_c), in the order of {@code ids}: what the model
   *     computes with, the tensors a sparse gradient is taken of
   */
  public record RowRead(ParamSpec spec, Operand<TInt32> ids, ImmutableList<Operand<? extends TFloating>> rows) {}

  /**
   * A training step's update of a buffer: {@code buffer -= rate * (buffer - target)}.
   *
   * @param target computed by the forward pass that asked for it (e.g. a batch statistic)
   */
  public record BufferUpdate(ParamSpec spec, Operand<? extends TFloating> target, double rate) {}

  private enum Binding {
    VARIABLES,
    ARGUMENTS,
    BOUND
  }

  private final Ops tf;
  private final long seed;
  private final Binding binding;
  private final Map<String, Param> params = new LinkedHashMap<>();
  private final Map<String, Operand<? extends TFloating>> boundValues;
  private final Map<String, Ops> scopes = new HashMap<>();
  private final Map<String, Variable<?>> states = new HashMap<>();
  private final Map<String, Param> buffers = new LinkedHashMap<>();
  private final List<BufferUpdate> bufferUpdates = new ArrayList<>();
  private final Map<String, RowRead> rowReads = new LinkedHashMap<>();
  /** How each variable (parameter, buffer, state) gets its first value. */
  private final VariableInits inits = new VariableInits();
  /** The value of each table parameter, by path. */
  private final Map<String, Operand<? extends TFloating>> tables = new LinkedHashMap<>();
  /** Each table's pieces' ids [M_c] so far, by path. */
  private final Map<String, List<Operand<TInt32>>> tableIds = new HashMap<>();
  private boolean frozen;

  private ParamStore(Ops tf, long seed, Binding binding, Map<String, Operand<? extends TFloating>> boundValues) {
    this.tf = tf;
    this.seed = seed;
    this.binding = binding;
    this.boundValues = boundValues;
  }

  /** Parameters become variables of the graph of {@code tf}, initialised from {@code seed}. */
  public static ParamStore variables(Ops tf, long seed) {
    return new ParamStore(tf, seed, Binding.VARIABLES, Map.of());
  }

  /** Parameters become placeholders (function arguments) in the graph of {@code tf}. */
  public static ParamStore arguments(Ops tf) {
    return new ParamStore(tf, 0, Binding.ARGUMENTS, Map.of());
  }

  /**
   * Parameters take the given values, by path (a function of its parameters, as in Haiku's apply):
   * e.g. a model built over tensors a gradient check perturbs. Asking for a path without a value,
   * or with a value of another shape or type, is an error naming the path.
   */
  public static ParamStore bound(Ops tf, Map<String, ? extends Operand<? extends TFloating>> values) {
    return new ParamStore(tf, 0, Binding.BOUND, Map.copyOf(values));
  }

  /**
   * A store that binds every path to this store's value: a second graph of the model over the same
   * parameters (the SavedModel's full-window and decoding signatures share one set of variables).
   */
  public ParamStore sharedWith(Ops other) {
    Map<String, Operand<? extends TFloating>> values = new LinkedHashMap<>();
    params.forEach((path, param) -> values.put(path, param.value()));
    buffers.forEach((path, buffer) -> {
      if (buffer.value() != null) {
        values.put(path, buffer.value());
      }
    });
    return bound(other, values);
  }

  /** The root scope of this store. */
  public ParamScope root() {
    return new ParamScope(this, "");
  }

  /**
   * Creates a parameter and returns its value.
   *
   * @throws IllegalArgumentException if the path exists already, or the spec is invalid
   * @throws IllegalStateException if the store is frozen
   */
  @SuppressWarnings("unchecked")
  @Override
  public <T extends TFloating> Operand<T> get(ParamSpec spec) {
    checkState(!frozen, "parameter '%s' created after the model was built (the store is frozen)", spec.path());
    checkArgument(!buffers.containsKey(spec.path()), "'%s' created twice (as a buffer, then a parameter)", spec.path());
    Param existing = params.get(spec.path());
    if (existing != null) {
      checkArgument(
          existing.spec().shape().equals(spec.shape()),
          "parameter '%s' created twice, with shapes %s and %s",
          spec.path(),
          existing.spec().shape(),
          spec.shape());
      throw new IllegalArgumentException(
          "parameter '" + spec.path() + "' created twice (share a parameter by passing its value, not its name)");
    }
    Param param =
        switch (binding) {
          case VARIABLES -> createVariable(spec);
          case ARGUMENTS -> createArgument(spec);
          case BOUND -> bind(spec);
        };
    params.put(spec.path(), param);
    return (Operand<T>) param.value();
  }

  /**
   * Creates a table parameter [rows, width] that the model reads only by rows ({@link #rows}).
   *
   * @throws IllegalArgumentException if the spec is not [rows, width], or the path exists already
   */
  @Override
  public void table(ParamSpec spec) {
    checkArgument(spec.shape().numDimensions() == 2, "table parameter '%s' must be [rows, width], got %s", spec.path(), spec.shape());
    tables.put(spec.path(), get(spec));
    tableIds.put(spec.path(), new ArrayList<>());
  }

  /**
   * Returns the rows at {@code ids} [..., width] of the table {@code spec}: one more piece of its
   * read, recorded ({@link #rowReads}).
   *
   * @throws IllegalArgumentException if {@code spec} is not a table created by {@link #table}
   * @throws IllegalStateException if the store is frozen (the training step has taken the reads)
   */
  @SuppressWarnings("unchecked")
  @Override
  public <T extends TFloating> Operand<T> rows(ParamSpec spec, Operand<TInt32> ids) {
    checkState(!frozen, "table '%s' read after the model was built (the store is frozen)", spec.path());
    Operand<T> table = (Operand<T>) tables.get(spec.path());
    checkArgument(table != null && params.get(spec.path()).spec().equals(spec), "'%s' is not a table created as %s", spec.path(), spec);
    Ops ops = scopeOf(parentOf(spec.path()));
    Operand<TInt32> flatIds = ops.reshape(ids, ops.constant(new int[] {-1})); // [M_c]
    Operand<T> rows = ops.gather(table, flatIds, ops.constant(0)); // [M_c, width]
    List<Operand<TInt32>> pieceIds = tableIds.get(spec.path());
    pieceIds.add(flatIds);
    RowRead before = rowReads.get(spec.path());
    ImmutableList.Builder<Operand<? extends TFloating>> pieces = ImmutableList.builder();
    if (before != null) {
      pieces.addAll(before.rows());
    }
    // A concat of all the ids so far per piece: the earlier ones stay in the graph, never run.
    Operand<TInt32> allIds = pieceIds.size() == 1 ? flatIds : ops.concat(pieceIds, ops.constant(0)); // [M]
    rowReads.put(spec.path(), new RowRead(spec, allIds, pieces.add(rows).build()));
    Operand<TInt32> shape = ops.concat(List.of(ops.shape(ids), ops.constant(new int[] {(int) spec.shape().get(1)})), ops.constant(0));
    return ops.reshape(rows, shape);
  }

  /** The table parameters read by rows, by path, in creation order. */
  public ImmutableMap<String, RowRead> rowReads() {
    return ImmutableMap.copyOf(rowReads);
  }

  /**
   * Creates a buffer (model state that is not a parameter) and returns its value: a variable read in
   * a variables store, the bound value in a bound one, a placeholder in an arguments one.
   *
   * @throws IllegalArgumentException if the path exists already
   * @throws IllegalStateException if the store is frozen
   */
  @SuppressWarnings("unchecked")
  @Override
  public <T extends TFloating> Operand<T> buffer(ParamSpec spec) {
    checkNewBuffer(spec);
    Param buffer =
        switch (binding) {
          case VARIABLES -> createVariable(spec);
          case ARGUMENTS -> createArgument(spec);
          case BOUND -> bind(spec);
        };
    buffers.put(spec.path(), buffer);
    return (Operand<T>) buffer.value();
  }

  /**
   * Declares a buffer that a training step moves toward {@code target}. A variables store creates
   * its variable (nothing reads it here: a training forward uses the batch's own statistics); other
   * stores only record the update, for whoever builds the step from them (an XLA-compiled step
   * returns the targets).
   */
  @Override
  public <T extends TFloating> void trackBuffer(ParamSpec spec, Operand<T> target, double rate) {
    checkNewBuffer(spec);
    checkArgument(rate > 0 && rate <= 1, "buffer '%s': rate (%s) must be in (0, 1]", spec.path(), rate);
    checkArgument(target.type() == spec.type(), "buffer '%s' is %s, its target %s", spec.path(),
        spec.type().getSimpleName(), target.type().getSimpleName());
    Param buffer = binding == Binding.VARIABLES ? createVariable(spec) : new Param(spec, null, null);
    buffers.put(spec.path(), buffer);
    bufferUpdates.add(new BufferUpdate(spec, target, rate));
  }

  private void checkNewBuffer(ParamSpec spec) {
    checkState(!frozen, "buffer '%s' created after the model was built (the store is frozen)", spec.path());
    checkArgument(!params.containsKey(spec.path()) && !buffers.containsKey(spec.path()) && !states.containsKey(spec.path()),
        "'%s' created twice", spec.path());
  }

  /** All buffers, in creation order; a tracked buffer outside a variables store has no value. */
  public ImmutableList<Param> buffers() {
    return ImmutableList.copyOf(buffers.values());
  }

  /** The updates the forward passes built over this store asked for, in order. */
  public ImmutableList<BufferUpdate> bufferUpdates() {
    return ImmutableList.copyOf(bufferUpdates);
  }

  /**
   * An optimizer slot of a parameter: a state variable of the same shape named {@code path/name}.
   */
  public <T extends TFloating> Variable<T> slot(Param param, String name) {
    @SuppressWarnings("unchecked")
    Class<T> type = (Class<T>) param.spec().type();
    return state(param.spec().path() + "/" + name, param.spec().shape(), type);
  }

  /**
   * A variable that is not a parameter (an optimizer slot, an XL memory): zeros until written, saved
   * with the parameters in checkpoints, never differentiated.
   */
  @SuppressWarnings("unchecked")
  public <T extends TFloating> Variable<T> state(String path, Shape shape, Class<T> type) {
    checkState(binding == Binding.VARIABLES, "state variables exist only in a variables store");
    ParamSpec spec = new ParamSpec(path, shape, type, Initializer.zeros());
    checkArgument(!params.containsKey(path) && !states.containsKey(path) && !buffers.containsKey(path), "'%s' created twice", path);
    Variable<T> variable = (Variable<T>) newVariable(spec);
    states.put(path, variable);
    return variable;
  }

  /** All parameters, in creation order. */
  public ImmutableList<Param> params() {
    return ImmutableList.copyOf(params.values());
  }

  /** All specs, in creation order. */
  public ImmutableList<ParamSpec> specs() {
    return params.values().stream().map(Param::spec).collect(ImmutableList.toImmutableList());
  }

  /** The values layers read, in creation order (what gradients are taken with respect to). */
  public List<Operand<? extends TFloating>> values() {
    return params.values().stream().map(Param::value).collect(ImmutableList.toImmutableList());
  }

  /** Total number of scalars. */
  public long size() {
    return params.values().stream().mapToLong(p -> p.spec().size()).sum();
  }

  /**
   * Gives every variable of this store (parameters, buffers, optimizer slots, other state) its
   * initial value, drawn in Java from the store's seed and each variable's path and fed to it a
   * bounded number of bytes at a time. The variables are no TensorFlow initialisers, so a session's
   * own {@code initialize} (or its runs' auto-initialisation) leaves them alone: this is the one
   * way, for a new model; a restored one is given its values by the checkpoint instead.
   *
   * @throws IllegalArgumentException if {@code session} is not on this store's graph
   * @throws IllegalStateException if the store binds no variables, or the graph has a variable
   *     the store did not create
   */
  public void initialize(Session session) {
    checkState(binding == Binding.VARIABLES, "only a variables store has variables to initialise");
    checkArgument(session.graph() == tf.scope().env(), "the session runs another graph than this store's");
    inits.run(session, seed);
  }

  /** After this, creating a parameter is an error: the model is complete. */
  public void freeze() {
    frozen = true;
  }

  /**
   * Scope of ops named by a path, e.g. {@code layers/3/attention}. Each path's scope is made once and
   * reused: TensorFlow Java makes every new sub-scope name unique ("layers", then "layers_1"), so a
   * second {@code withSubScope("layers")} would put layer 3's second parameter under another prefix.
   */
  @Override
  public Ops scopeOf(String path) {
    if (path.isEmpty()) {
      return tf;
    }
    Ops cached = scopes.get(path);
    if (cached == null) {
      int slash = path.lastIndexOf('/');
      Ops parent = slash < 0 ? tf : scopeOf(path.substring(0, slash));
      cached = parent.withSubScope(path.substring(slash + 1));
      scopes.put(path, cached);
    }
    return cached;
  }

  private Param createVariable(ParamSpec spec) {
    Variable<? extends TFloating> variable = newVariable(spec);
    Operand<? extends TFloating> read =
        new Identity<>(named("Identity", spec.path() + "/read", tf.scope()).addInput(variable.asOutput()).build());
    return new Param(spec, read, variable);
  }

  /**
   * A VariableV2 named exactly by {@code spec}'s path, with an Assign {@code path/init} from a
   * placeholder {@code path/init_value} that {@link #initialize} feeds. Built with explicit names
   * because TensorFlow Java's name scopes treat op names and scope names as one namespace: a
   * variable {@code embedding} would push every later scope called {@code embedding} (its read, its
   * optimizer slots) to {@code embedding_1}. Not in TensorFlow's init scope: its initialisers would
   * be run by a session's auto-initialisation, without the fed value.
   */
  private <T extends TFloating> Variable<T> newVariable(ParamSpec spec) {
    @SuppressWarnings("unchecked")
    Class<T> type = (Class<T>) spec.type();
    String name = spec.path();
    Scope scope = tf.scope();
    Variable<T> variable = new Variable<>(named("VariableV2", name, scope)
        .setAttr("shape", spec.shape()).setAttr("dtype", Operands.toDataType(type)).build());
    Placeholder<T> value = new Placeholder<>(named("Placeholder", name + "/init_value", scope)
        .setAttr("dtype", Operands.toDataType(type)).setAttr("shape", spec.shape()).build());
    GraphOperation assign = (GraphOperation) named("Assign", name + "/init", scope)
        .addInput(variable.asOutput()).addInput(value.asOutput()).build();
    inits.add(spec, value, assign);
    return variable;
  }

  /** A builder of an op named exactly {@code name}; fails if the graph has an op of that name. */
  private OperationBuilder named(String type, String name, Scope scope) {
    Graph graph = (Graph) tf.scope().env();
    checkArgument(graph.operation(name) == null, "an op named '%s' exists already in the graph", name);
    return graph.opBuilder(type, name, scope);
  }

  private Param createArgument(ParamSpec spec) {
    Operand<? extends TFloating> placeholder =
        tf.withName(spec.path().replace('/', '.'))
            .placeholder(spec.type(), Placeholder.shape(spec.shape()));
    return new Param(spec, placeholder, null);
  }

  private Param bind(ParamSpec spec) {
    Operand<? extends TFloating> value = boundValues.get(spec.path());
    checkArgument(value != null, "no value bound for parameter '%s'", spec.path());
    checkArgument(value.type() == spec.type(), "parameter '%s' is %s, its bound value %s",
        spec.path(), spec.type().getSimpleName(), value.type().getSimpleName());
    checkArgument(value.shape().isCompatibleWith(spec.shape()), "parameter '%s' has shape %s, its bound value %s",
        spec.path(), spec.shape(), value.shape());
    return new Param(spec, value, null);
  }

  private static String parentOf(String path) {
    int slash = path.lastIndexOf('/');
    return slash < 0 ? "" : path.substring(0, slash);
  }


}
