package io.switchhead.graph.model;

import com.google.common.collect.ImmutableList;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.params.ParamStore;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;

/**
 * An XL model's memory kept in the graph between session runs: one state variable [B, T, D] per
 * layer ({@code memory/<kind>/<layer>}), saved by checkpoints with the parameters, so a resumed run
 * continues the same streams. Empty (no variables) for models without memory.
 */
public final class MemoryState {

  /** Every memory variable's name starts with it. */
  public static final String PREFIX = "memory/";

  private final ImmutableList<Variable<TFloat32>> variables;

  private MemoryState(List<Variable<TFloat32>> variables) {
    this.variables = ImmutableList.copyOf(variables);
  }

  /** The memory variables of {@code kind} (e.g. "train", "eval") for batches of {@code batch} rows. */
  public static MemoryState create(ParamStore store, ModelConfig c, String kind, int batch) {
    List<Variable<TFloat32>> memory = new ArrayList<>();
    if (c.hasMemory()) {
      for (int i = 0; i < c.layers(); i++) {
        memory.add(store.state(PREFIX + kind + "/" + i, Shape.of(batch, c.context(), c.dModel()), TFloat32.class));
      }
    }
    return new MemoryState(memory);
  }

  /** The current memories, one read per layer (empty without memory). */
  public List<Operand<TFloat32>> reads(Ops tf) {
    List<Operand<TFloat32>> values = new ArrayList<>();
    variables.forEach(v -> values.add(tf.identity(v)));
    return values;
  }

  /** Ops that store {@code next}, one memory per layer, as the memory of the next run. */
  public List<Op> assign(Ops tf, List<Operand<TFloat32>> next) {
    List<Op> ops = new ArrayList<>();
    for (int i = 0; i < variables.size(); i++) {
      ops.add(tf.assign(variables.get(i), next.get(i)));
    }
    return ops;
  }

  /** Ops that zero every layer's memory. */
  public List<Op> reset(Ops tf) {
    List<Op> ops = new ArrayList<>();
    variables.forEach(m -> ops.add(tf.assign(m, tf.zerosLike(m))));
    return ops;
  }
}
