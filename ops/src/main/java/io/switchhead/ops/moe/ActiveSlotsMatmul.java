package io.switchhead.ops.moe;

import static com.google.common.base.Preconditions.checkArgument;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TFloating;

/**
 * A conditional matmul that computes only the active (row, slot) pairs, for dynamic k (our design,
 * {@link DynamicK}): the active pairs are gathered, handed to an inner dispatch as rows of one slot
 * each, and scattered back; an inactive slot's output is 0, as its gate 0 would make it. The number
 * of active pairs is data, so the inner dispatch must take a row count known only at run time (the
 * plain graph's {@link SegmentedConditionalMatmul}); XLA steps keep the masked, fixed-shape dispatch.
 */
public final class ActiveSlotsMatmul implements ConditionalMatmul {

  private final ConditionalMatmul inner;
  private final Operand<TBool> active;

  /**
   * @param inner computes the active pairs; must accept a row count known only at run time
   * @param active [N, k], true where a slot is used; the same layout as the ids it will be called with
   */
  public ActiveSlotsMatmul(ConditionalMatmul inner, Operand<TBool> active) {
    this.inner = inner;
    this.active = active;
  }

  @Override
  public <T extends TFloating> Operand<T> slotOutputs(Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates) {
    checkArgument(ids.shape().numDimensions() == 2 && ids.shape().get(1) > 0, "active-slots matmul: ids must be [N, k], got %s", ids.shape());
    checkArgument(w.shape().numDimensions() == 3 && w.shape().get(2) > 0, "active-slots matmul: w must be [M, dIn, dOut], got %s", w.shape());
    int k = (int) ids.shape().get(1);
    int dOut = (int) w.shape().get(2);
    Ops a = tf.withSubScope("activeSlots");
    Operand<TInt64> where = a.where(a.reshape(active, a.constant(new int[] {-1}))); // [P', 1] flat positions row*k + slot
    Operand<TInt32> pairs = a.dtypes.cast(a.reshape(where, a.constant(new int[] {-1})), TInt32.class); // [P']
    Operand<T> xActive = a.gather(x, a.math.floorDiv(pairs, a.constant(k)), a.constant(0)); // [P', dIn]
    Operand<TInt32> idsActive = a.reshape(a.gather(a.reshape(ids, a.constant(new int[] {-1})), pairs, a.constant(0)), a.constant(new int[] {-1, 1}));
    Operand<T> gatesActive = a.reshape(a.gather(a.reshape(gates, a.constant(new int[] {-1})), pairs, a.constant(0)), a.constant(new int[] {-1, 1}));
    Operand<T> y = a.reshape(inner.slotOutputs(a, xActive, w, idsActive, gatesActive), a.constant(new int[] {-1, dOut})); // [P', dOut]
    Operand<TInt32> allPairs = a.size(ids, TInt32.class);
    Operand<T> scattered = a.scatterNd(a.expandDims(pairs, a.constant(1)), y, a.stack(List.of(allPairs, a.constant(dOut)))); // [N*k, dOut]
    long n = ids.shape().get(0);
    return a.reshape(scattered, a.constant(new int[] {n > 0 ? (int) n : -1, k, dOut})); // [N, k, dOut]
  }
}
