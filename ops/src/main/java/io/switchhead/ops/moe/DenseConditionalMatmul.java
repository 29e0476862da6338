package io.switchhead.ops.moe;

import java.util.Arrays;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Stack;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The reference conditional matmul: every expert on every row, masked by a gate matrix.
 *
 * <p>It computes X W_m for all M experts (M/k times the useful work) and weights them by G [N, M],
 * zero except at the chosen experts, where it holds the gate (two slots with one expert add). It is
 * simple enough to be obviously right, which is what the tests need; it is not the fast path.
 */
public final class DenseConditionalMatmul implements ConditionalMatmul {

  private static final String WHERE = "dense conditional matmul";

  @Override
  public <T extends TFloating> Operand<T> apply(
      Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates) {
    MatmulShapes s = MatmulShapes.of(WHERE, x, w, ids, gates);
    Ops mm = tf.withSubScope("denseMatmul");
    Operand<TInt32> checkedIds = ExpertIds.checked(mm, ids, s.experts());
    Operand<TInt32> cells =
        mm.reshape(
            mm.stack(List.of(rowIndex(mm, s), checkedIds), Stack.axis(2L)),
            mm.constant(new int[] {s.pairs(), 2})); // [N*k, 2] (n, expert)
    Operand<T> g =
        mm.scatterNd(
            cells,
            mm.reshape(gates, mm.constant(new int[] {s.pairs()})),
            mm.constant(new int[] {s.rows(), s.experts()})); // [N, M], duplicates add
    Operand<T> yAll = allExperts(mm, x, w); // [M, N, dOut]
    Operand<T> gByExpert = mm.expandDims(mm.linalg.transpose(g, mm.constant(new int[] {1, 0})), mm.constant(-1)); // [M, N, 1]
    return mm.reduceSum(mm.math.mul(yAll, gByExpert), mm.constant(0)); // [N, dOut]
  }

  @Override
  public <T extends TFloating> Operand<T> slotOutputs(
      Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates) {
    MatmulShapes s = MatmulShapes.of(WHERE, x, w, ids, gates);
    Ops mm = tf.withSubScope("denseMatmul");
    Operand<TInt32> checkedIds = ExpertIds.checked(mm, ids, s.experts());
    Operand<TInt32> cells =
        mm.stack(List.of(checkedIds, rowIndex(mm, s)), Stack.axis(2L)); // [N, k, 2] (expert, n)
    Operand<T> ySlots = mm.gatherNd(allExperts(mm, x, w), cells); // [N, k, dOut]
    return mm.math.mul(ySlots, mm.expandDims(gates, mm.constant(-1))); // [N, k, dOut]
  }

  /** X W_m for every expert m: [M, N, dOut] (x is broadcast over the expert batch). */
  private static <T extends TFloating> Operand<T> allExperts(Ops tf, Operand<T> x, Operand<T> w) {
    return tf.train.batchMatMul(tf.expandDims(x, tf.constant(0)), w, x.type());
  }

  /** [N, k] holding n in row n. */
  private static Operand<TInt32> rowIndex(Ops tf, MatmulShapes s) {
    int[][] rows = new int[s.rows()][s.k()];
    for (int n = 0; n < s.rows(); n++) {
      Arrays.fill(rows[n], n);
    }
    return tf.constant(rows);
  }
}
