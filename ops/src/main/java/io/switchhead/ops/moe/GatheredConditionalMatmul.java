package io.switchhead.ops.moe;

import io.switchhead.ops.BatchMatmulV2;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The conditional matmul of few rows (a decoding step's tokens): each (row, slot) pair's expert
 * weights gathered, [N, k, dIn, dOut], and every row multiplied by its own in one batched matmul.
 * A handful of ops where the segmented matmul runs about fifty, which is what a decoding step's time
 * is made of; but the gathered weights grow with N (N * k * dIn * dOut values), so it is for few
 * rows only ({@link FewRowsSwitch} picks it by the row count). Gradients are TensorFlow's own
 * (GatherV2, BatchMatMulV2). N may be known only at run time.
 */
public final class GatheredConditionalMatmul implements ConditionalMatmul {

  private static final String WHERE = "gathered conditional matmul";

  @Override
  public <T extends TFloating> Operand<T> slotOutputs(Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates) {
    MatmulShapes.Dims s = MatmulShapes.read(WHERE, x, w, ids, gates);
    Ops mm = tf.withSubScope("gatheredMatmul");
    Operand<T> weights = mm.gather(w, mm.stopGradient(ids), mm.constant(0)); // [N, k, dIn, dOut]
    Operand<T> rows = mm.reshape(x, mm.constant(new int[] {-1, 1, 1, s.dIn()})); // [N, 1, 1, dIn], broadcast over the slots
    Operand<T> products = BatchMatmulV2.of(mm, rows, weights, false, false); // [N, k, 1, dOut]
    Operand<T> slots = mm.reshape(products, mm.constant(new int[] {-1, s.k(), s.dOut()})); // [N, k, dOut]
    return mm.math.mul(slots, mm.expandDims(gates, mm.constant(-1)));
  }
}
