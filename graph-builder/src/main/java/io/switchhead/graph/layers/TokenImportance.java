package io.switchhead.graph.layers;

import io.switchhead.graph.config.AttentionK;
import io.switchhead.graph.config.KRule;
import io.switchhead.ops.moe.DynamicK;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * A block attention's token importance for dynamic-k routers (<b>our design</b>, {@link DynamicK}):
 * built from the attention probabilities, computed once when a router first asks, shared by the
 * block's dynamic routers (SwitchHead's value and output selections, the sigma-MoE feed-forward).
 *
 * <p>The queries are the last T of the Tk keys (the chunk after its memory, or a decoding call's new
 * tokens after the cache), so the query tokens' importance is the keys' last T columns.
 */
public final class TokenImportance<T extends TFloating> {

  private final Ops tf;
  private final Operand<T> weights;
  private final Operand<TBool> visible;
  private Operand<T> keys;

  /**
   * @param weights attention probabilities [B, H, T, Tk]
   * @param visible [T, Tk], true where a query can see a key
   */
  public TokenImportance(Ops tf, Operand<T> weights, Operand<TBool> visible) {
    this.tf = tf;
    this.weights = weights;
    this.visible = visible;
  }

  /** Importance of every key token, [B, Tk] in [0, 1]. */
  public Operand<T> keys() {
    if (keys == null) {
      keys = DynamicK.importance(tf, weights, visible);
    }
    return keys;
  }

  /** Importance of the query tokens (the last T keys), [B, T]. */
  public Operand<T> queries() {
    Shape known = weights.shape();
    if (known.numDimensions() == 4 && known.get(2) > 0 && known.get(3) > 0) {
      // Training and evaluation graphs: T and Tk are static, and so is the slice.
      return tf.slice(keys(), tf.constant(new int[] {0, (int) (known.get(3) - known.get(2))}), tf.constant(new int[] {-1, (int) known.get(2)}));
    }
    Operand<TInt32> shape = tf.shape(weights, TInt32.class); // [4]
    Operand<TInt32> t = tf.slice(shape, tf.constant(new int[] {2}), tf.constant(new int[] {1}));
    Operand<TInt32> tk = tf.slice(shape, tf.constant(new int[] {3}), tf.constant(new int[] {1}));
    Operand<TInt32> begin = tf.concat(List.of(tf.constant(new int[] {0}), tf.math.sub(tk, t)), tf.constant(0));
    return tf.slice(keys(), begin, tf.constant(new int[] {-1, -1}));
  }

  /**
   * K per token [N] of {@code importance} [B, n] under {@code rule}, flattened token-major as the
   * layers flatten [B, n, D] to [N, D].
   */
  static <T extends TFloating> Operand<TInt32> perToken(Ops tf, Operand<T> importance, KRule rule, int kMax) {
    AttentionK a = (AttentionK) rule;
    return tf.reshape(DynamicK.perToken(tf, importance, a.variant(), a.kAvg(), kMax), tf.constant(new int[] {-1}));
  }
}
