package io.switchhead.ops.moe;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.ops.ShapeCheck;
import io.switchhead.ops.StatelessRandom;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Gather;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.op.nn.TopK;
import org.tensorflow.types.TFloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TFloating;

/**
 * SwitchHead's expert selection (SWITCHHEAD.md section 1, step 2): per head, sigmoid gates over its E
 * experts, top-k with no gradient through the choice, gate values the raw sigmoid at the chosen
 * experts (not renormalised), expert ids offset by head (h*E + e). Expert dropout (training) masks
 * scores to -inf before top-k, so it changes which experts are chosen, never the gate values.
 *
 * <p>Shapes: N tokens, D width, H heads, E experts per head, k chosen per head.
 */
public final class ExpertSelection {

  /**
   * @param ids [N, H*k] int32, head h's experts at columns h*k .. h*k+k-1, values h*E + e
   * @param gates [N, H*k], the sigmoid scores at ids
   * @param logits [N, H*E], before the sigmoid (float32 or wider)
   * @param usageEntropy scalar: entropy of the mean (over tokens) of softmax(logits) per head,
   *     averaged over heads; the sigma-MoE regulariser maximises it
   */
  public record Result<T extends TFloating>(Operand<TInt32> ids, Operand<T> gates, Operand<? extends TFloating> logits,
      Operand<T> usageEntropy) {}

  private ExpertSelection() {}

  /**
   * @param x [N, D]
   * @param selection [H*E, D]
   * @param dropout expert-dropout probability; 0 in evaluation
   * @param seed int64 [2] for the dropout mask; may be null when dropout is 0
   */
  public static <T extends TFloating> Result<T> select(Ops tf, Operand<T> x, Operand<T> selection, int heads, int experts,
      int k, double dropout, Operand<TInt64> seed) {
    checkArgument(k >= 1 && k <= experts, "k (%s) must be in [1, experts = %s]", k, experts);
    checkArgument(dropout >= 0 && dropout < 1, "expert dropout (%s) must be in [0, 1)", dropout);
    checkArgument(dropout == 0 || seed != null, "expert dropout needs a seed");
    ShapeCheck.require("expert selection", "selection [H*E, D]", selection, (long) heads * experts, ShapeCheck.ANY);
    Class<T> type = x.type();
    // Selection logits at float32 or wider, even when the model runs in half precision.
    boolean half = type == TFloat16.class || type == TBfloat16.class;
    Operand<? extends TFloating> logits = half
        ? tf.linalg.matMul(tf.dtypes.cast(x, TFloat32.class), tf.dtypes.cast(selection, TFloat32.class), MatMul.transposeB(true))
        : tf.linalg.matMul(x, selection, MatMul.transposeB(true)); // [N, H*E]
    Operand<T> scores = tf.reshape(tf.dtypes.cast(tf.math.sigmoid(logits), type), tf.constant(new int[] {-1, heads, experts})); // [N, H, E]

    Operand<T> ranked = tf.stopGradient(scores);
    if (dropout > 0) {
      Operand<T> minusInf = tf.dtypes.cast(tf.constant(Float.NEGATIVE_INFINITY), type);
      Operand<TBool> dropped = tf.math.less(StatelessRandom.uniform(tf, tf.shape(scores), seed), tf.constant(dropout));
      ranked = tf.select(dropped, tf.fill(tf.shape(scores), minusInf), ranked);
    }
    Operand<TInt32> chosen = tf.nn.topK(ranked, tf.constant(k), new TopK.Options[0]).indices(); // [N, H, k]
    Operand<T> gates = tf.gather(scores, chosen, tf.constant(2), Gather.batchDims(2L)); // [N, H, k]
    Operand<TInt32> headOffset = tf.reshape(tf.math.mul(tf.range(tf.constant(0), tf.constant(heads), tf.constant(1)), tf.constant(experts)),
        tf.constant(new int[] {1, heads, 1}));
    Operand<TInt32> ids = tf.reshape(tf.math.add(chosen, headOffset), tf.constant(new int[] {-1, heads * k}));
    return new Result<>(ids, tf.reshape(gates, tf.constant(new int[] {-1, heads * k})), logits,
        usageEntropy(tf, logits, heads, experts, type));
  }

  private static <T extends TFloating, L extends TFloating> Operand<T> usageEntropy(Ops tf, Operand<L> logits, int heads,
      int experts, Class<T> type) {
    Operand<L> perHead = tf.reshape(logits, tf.constant(new int[] {-1, heads, experts}));
    Operand<L> mean = tf.math.mean(tf.nn.softmax(perHead), tf.constant(0)); // [H, E]
    Operand<L> entropy = tf.math.neg(tf.reduceSum(tf.math.mul(mean, tf.math.log(mean)), tf.constant(1))); // [H]
    return tf.dtypes.cast(tf.math.mean(entropy, tf.constant(0)), type);
  }
}
