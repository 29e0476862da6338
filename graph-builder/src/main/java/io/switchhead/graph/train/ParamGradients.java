package io.switchhead.graph.train;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.gradients.Gradients;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;

/**
 * The gradient a training step takes of each parameter: of its value, or for a table read by rows
 * of the rows read, so the table's gradient is never the dense [rows, width] scatter that GatherV2's
 * gradient builds (see {@link AdamW} for the lazy update it gets instead).
 */
final class ParamGradients {

  private ParamGradients() {}

  /**
   * One gradient of {@code loss} per parameter of {@code store}, in its order: a table read by rows
   * gets the gradient of its rows [M, width], its pieces' gradients concatenated in the order of
   * {@link ParamStore.RowRead#ids} (a layer that gathers chunk by chunk reads a table in pieces).
   */
  static List<Operand<?>> of(Ops tf, Operand<?> loss, ParamStore store) {
    List<Operand<?>> xs = new ArrayList<>();
    List<Integer> pieces = new ArrayList<>();
    for (ParamStore.Param p : store.params()) {
      ParamStore.RowRead read = store.rowReads().get(p.spec().path());
      List<? extends Operand<?>> differentiated = read == null ? List.of(p.value()) : read.rows();
      xs.addAll(differentiated);
      pieces.add(differentiated.size());
    }
    List<Operand<?>> flat = Gradients.of(tf, loss, xs);
    ImmutableList.Builder<Operand<?>> grads = ImmutableList.builder();
    int next = 0;
    for (int count : pieces) {
      List<Operand<?>> own = flat.subList(next, next + count);
      grads.add(count == 1 ? own.get(0) : concat(tf, own));
      next += count;
    }
    return grads.build();
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static Operand<?> concat(Ops tf, List<Operand<?>> pieces) {
    return tf.concat((List) pieces, tf.constant(0)); // [M, width]
  }

  /** By parameter index, the rows read of each table read by rows. */
  static ImmutableMap<Integer, Operand<TInt32>> sparseRows(ParamStore store) {
    ImmutableMap.Builder<Integer, Operand<TInt32>> rows = ImmutableMap.builder();
    ImmutableList<ParamStore.Param> params = store.params();
    for (int i = 0; i < params.size(); i++) {
      ParamStore.RowRead read = store.rowReads().get(params.get(i).spec().path());
      if (read != null) {
        rows.put(i, read.ids());
      }
    }
    return rows.buildOrThrow();
  }
}
