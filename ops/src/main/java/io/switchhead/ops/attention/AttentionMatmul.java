package io.switchhead.ops.attention;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.ops.BatchMatmulV2;
import io.switchhead.ops.gradients.GradientOverride;
import java.util.Arrays;
import java.util.List;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.op.train.BatchMatMul;
import org.tensorflow.types.family.TFloating;

/**
 * The two batched matmuls of attention, scores {@code q k^T} and output {@code p v} over [B, H, ...]
 * operands of equal batch dimensions, as {@code BatchMatMulV2} forward and backward.
 *
 * <p>Why: {@code tf.train.batchMatMul} emits BatchMatMulV3, and TensorFlow's gradient of any batch
 * matmul emits V3 too, which oneDNN's rewrite skips: on the CPU they ran on Eigen and took a quarter
 * to a third of a dense 47M model's training step (`bench compare --profile`). V2 is rewritten to
 * oneDNN's batched matmul. The gradient is written here, of V2 only, through {@link GradientOverride}:
 * for {@code C = A B}, {@code dA = dC B^T} and {@code dB = A^T dC}; for {@code C = A B^T}, {@code dA =
 * dC B} and {@code dB = dC^T A}.
 */
public final class AttentionMatmul {

  static final String NAME = "attention_matmul";

  /** The gradient's config: whether the forward took B transposed. */
  private static final String TRANSPOSED = "b transposed";

  private static final String PLAIN = "plain";

  static {
    GradientOverride.define(NAME, AttentionMatmul::gradients);
  }

  private AttentionMatmul() {}

  /**
   * {@code a b^T} (scores) with {@code transposeB}, else {@code a b}. Where the batch dimensions are
   * not known equal when the graph is built (a decoding graph's batch is known only when it runs),
   * TensorFlow's own op, whose gradient handles broadcasting.
   */
  public static <T extends TFloating> Operand<T> of(Ops tf, Operand<T> a, Operand<T> b, boolean transposeB) {
    long[] batchA = batchDims(a);
    long[] batchB = batchDims(b);
    if (!Arrays.equals(batchA, batchB) || Arrays.stream(batchA).anyMatch(d -> d < 0)) {
      return tf.train.batchMatMul(a, b, a.type(), BatchMatMul.adjY(transposeB));
    }
    Operand<T> value = BatchMatmulV2.of(tf, a, b, false, transposeB);
    return GradientOverride.withGradient(tf, NAME, transposeB ? TRANSPOSED : PLAIN, value, List.of(a, b));
  }

  private static long[] batchDims(Operand<?> x) {
    long[] dims = x.shape().asArray();
    checkArgument(x.shape().numDimensions() >= 3, "attention matmul operands are batched matrices, got shape %s", x.shape());
    return Arrays.copyOf(dims, dims.length - 2);
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static List<Operand<?>> gradients(Ops tf, GraphOperation node, List<Output<?>> outputGradients, String config) {
    Operand dc = outputGradients.get(0);
    Operand a = node.input(1);
    Operand b = node.input(2);
    Ops g = tf.withSubScope("attentionMatmulGrad");
    boolean transposed = config.equals(TRANSPOSED);
    checkArgument(transposed || config.equals(PLAIN), "%s: unknown config '%s'", NAME, config);
    Operand<?> da = transposed ? BatchMatmulV2.of(g, dc, b, false, false) : BatchMatmulV2.of(g, dc, b, false, true);
    Operand<?> db = transposed ? BatchMatmulV2.of(g, dc, a, true, false) : BatchMatmulV2.of(g, a, dc, true, false);
    return Arrays.asList(null, da, db);
  }
}
