package io.switchhead.ops.moe;

import static com.google.common.base.Preconditions.checkArgument;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * Dynamic-k routing in the manner of DA-MoE (arXiv:2409.06669). The paper's formulas were not
 * available; everything here is <b>our design</b> (SEEDS-MOE.md, section DA-MoE):
 *
 * <ul>
 *   <li>importance s_j of token j = mean over heads of the attention j receives from the queries
 *       that can see it, divided by how many queries can see it (so a late token of a causal
 *       chunk, seen by few queries, is not penalised), normalised per sequence by its maximum; the
 *       attention's gradient is stopped;
 *   <li>K_j = clip(ceil(s_j * K_max), 1, K_max) ({@link Variant#CEIL}), or K_j = clip(round(K_avg *
 *       T * s_j / sum s), 1, K_max) ({@link Variant#BUDGET}, which keeps the mean near K_avg);
 *   <li>static shapes: the selection takes the top K_max as usual, and {@link #maskSlots} gives the
 *       slots past K_j gate 0, so every conditional matmul runs unchanged.
 * </ul>
 *
 * <p>Shapes: B batch, H heads, T queries, Tk keys, N tokens, k = K_max slots per head.
 */
public final class DynamicK {

  /** How importance becomes K. */
  public enum Variant {
    /** K_j = clip(ceil(s_j * K_max), 1, K_max): the most important token of a sequence gets K_max. */
    CEIL,
    /** K_j = clip(round(K_avg * T * s_j / sum s), 1, K_max): about K_avg per token on average. */
    BUDGET
  }

  private DynamicK() {}

  /**
   * Token importance s [B, Tk] in [0, 1], each sequence's most important key at 1. A key that no
   * query can see (outside a decoding window) gets 0.
   *
   * @param weights attention probabilities [B, H, T, Tk], 0 where a query cannot see a key
   * @param visible [T, Tk], true where query i can see key j
   */
  public static <T extends TFloating> Operand<T> importance(Ops tf, Operand<T> weights, Operand<TBool> visible) {
    checkArgument(weights.shape().numDimensions() == 4, "dynamic k: attention weights must be [B, H, T, Tk], got %s", weights.shape());
    Ops dk = tf.withSubScope("dynamicK");
    Class<T> type = weights.type();
    // Routing reads the attention; it must not train it.
    Operand<T> w = dk.stopGradient(weights);
    Operand<T> received = dk.reduceSum(dk.math.mean(w, dk.constant(1)), dk.constant(1)); // [B, Tk]
    Operand<T> seenBy = dk.reduceSum(dk.dtypes.cast(visible, type), dk.constant(0)); // [Tk]
    Operand<T> perQuery = dk.math.div(received, dk.math.maximum(seenBy, one(dk, type))); // [B, Tk]
    Operand<T> max = dk.reduceMax(perQuery, dk.constant(1), org.tensorflow.op.core.ReduceMax.keepDims(true)); // [B, 1], > 0: a query sees itself
    return dk.math.div(perQuery, max);
  }

  /**
   * K per token [B, Tk] in [1, K_max] from importance [B, Tk] (every sequence one row).
   *
   * @param kAvg the budget variant's mean K, in [1, K_max]; not read by {@link Variant#CEIL}
   */
  public static <T extends TFloating> Operand<TInt32> perToken(Ops tf, Operand<T> importance, Variant variant, double kAvg, int kMax) {
    checkArgument(kMax >= 1, "dynamic k: kMax (%s) must be >= 1", kMax);
    checkArgument(variant == Variant.CEIL || (kAvg >= 1 && kAvg <= kMax), "dynamic k: kAvg (%s) must be in [1, kMax = %s]", kAvg, (Object) kMax);
    Ops dk = tf.withSubScope("dynamicK");
    Class<T> type = importance.type();
    Operand<T> raw;
    if (variant == Variant.CEIL) {
      raw = dk.math.ceil(dk.math.mul(importance, scalar(dk, kMax, type)));
    } else {
      // T * s_j / sum s: importance relative to the sequence's mean, whatever its length.
      Operand<T> tokens = dk.dtypes.cast(dk.slice(dk.shape(importance), dk.constant(new int[] {1}), dk.constant(new int[] {1})), type); // [1]
      Operand<T> sum = dk.reduceSum(importance, dk.constant(1), org.tensorflow.op.core.ReduceSum.keepDims(true)); // [B, 1]
      raw = dk.math.round(dk.math.div(dk.math.mul(dk.math.mul(importance, tokens), scalar(dk, kAvg, type)), sum));
    }
    Operand<T> clipped = dk.clipByValue(raw, one(dk, type), scalar(dk, kMax, type));
    // K is a count and carries no gradient; saying so keeps Ceil and Round (which have none) off
    // every differentiated path, whatever importance was computed from.
    return dk.dtypes.cast(dk.stopGradient(clipped), TInt32.class);
  }

  /**
   * The gates with every slot past its token's K set to 0: slot h*k + j (head h's j-th best
   * expert) stays when j < K. Top-k orders each head's slots by score, so the kept ones are the
   * token's top-K.
   *
   * @param gates [N, H*k]
   * @param kPerToken [N], in [1, k]
   */
  public static <T extends TFloating> Operand<T> maskSlots(Ops tf, Operand<T> gates, Operand<TInt32> kPerToken, int heads, int k) {
    return tf.math.mul(gates, tf.dtypes.cast(activeSlots(tf, kPerToken, heads, k), gates.type()));
  }

  /** [N, H*k] true where slot h*k + j is used, j < K of its token. */
  public static Operand<TBool> activeSlots(Ops tf, Operand<TInt32> kPerToken, int heads, int k) {
    int[][] rank = new int[1][heads * k];
    for (int s = 0; s < heads * k; s++) {
      rank[0][s] = s % k;
    }
    return tf.math.less(tf.constant(rank), tf.expandDims(kPerToken, tf.constant(1)));
  }

  /** The mean of K over all tokens, float32 scalar (logged; compute saved against K_max is 1 - mean/K_max). */
  public static Operand<TFloat32> meanK(Ops tf, Operand<TInt32> kPerToken) {
    Operand<TFloat32> k = tf.dtypes.cast(kPerToken, TFloat32.class);
    return tf.math.mean(k, tf.range(tf.constant(0), tf.rank(k), tf.constant(1)));
  }

  private static <T extends TFloating> Operand<T> one(Ops tf, Class<T> type) {
    return scalar(tf, 1, type);
  }

  private static <T extends TFloating> Operand<T> scalar(Ops tf, double value, Class<T> type) {
    return tf.dtypes.cast(tf.constant(value), type);
  }
}
