package io.switchhead.ops.moe;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * A matmul in which every row of X is multiplied by the weights of k chosen experts, weighted by
 * gates: {@code Y[n] = sum_j gates[n, j] * X[n] W[ids[n, j]]}.
 *
 * <p>Shapes (static; only {@link SegmentedConditionalMatmul} also takes an N known only at run time):
 * x [N, dIn], w [M, dIn, dOut], ids [N, k] int32 in [0, M), gates [N, k].
 * The same expert may appear twice in a row; its two slots then add. Gradients flow to x, w and
 * gates; ids are routing and have none.
 */
public interface ConditionalMatmul {

  /** The gate-weighted output of each slot, {@code gates[n, j] * X[n] W[ids[n, j]]}: [N, k, dOut]. */
  <T extends TFloating> Operand<T> slotOutputs(
      Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates);

  /** The slot outputs summed over the k slots: [N, dOut]. */
  default <T extends TFloating> Operand<T> apply(
      Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates) {
    return tf.reduceSum(slotOutputs(tf, x, w, ids, gates), tf.constant(1));
  }
}
