package io.switchhead.ops.moe;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * A conditional matmul that builds either of its outputs with one method: the layouts with a
 * hand-written backward, which saves different tensors for the two.
 */
interface SlotsOrSummed extends ConditionalMatmul {

  /** The slot outputs [N, k, dOut] when {@code slots}, else their sum over the slots [N, dOut]. */
  <T extends TFloating> Operand<T> build(Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates, boolean slots);

  @Override
  default <T extends TFloating> Operand<T> slotOutputs(Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates) {
    return build(tf, x, w, ids, gates, true);
  }

  @Override
  default <T extends TFloating> Operand<T> apply(Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates) {
    return build(tf, x, w, ids, gates, false);
  }
}
