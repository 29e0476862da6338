package io.switchhead.ops;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.family.TFloating;

/**
 * {@code BatchMatMulV2}, which TensorFlow Java 1.1.0 has no wrapper for ({@code tf.train.batchMatMul}
 * emits BatchMatMulV3).
 *
 * <p>Why it matters on the CPU: TensorFlow's oneDNN layout pass rewrites BatchMatMul and
 * BatchMatMulV2 (float32) to {@code _MklBatchMatMulV2}, but not V3, which runs on Eigen, markedly
 * slower and slower still with an adjoint operand (docs/benchmarks/conditional-matmul.md).
 * TensorFlow's own gradient of any batch matmul emits V3, which is why the sorted matmul and the
 * attention matmuls write their own backward, of V2 only.
 */
public final class BatchMatmulV2 {

  private BatchMatmulV2() {}

  /** {@code adjA ? a^T : a} times {@code adjB ? b^T : b}, batched over the leading dimension. */
  @SuppressWarnings("unchecked")
  public static <T extends TFloating> Operand<T> of(Ops tf, Operand<T> a, Operand<T> b, boolean adjA, boolean adjB) {
    return (Operand<T>) (Operand<?>)
        tf.scope().opBuilder("BatchMatMulV2", "BatchMatMulV2")
            .addInput(a.asOutput())
            .addInput(b.asOutput())
            .setAttr("adj_x", adjA)
            .setAttr("adj_y", adjB)
            .build()
            .output(0);
  }
}
