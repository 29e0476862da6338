package io.switchhead.graph.layers;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.ops.attention.Attention;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TType;

/**
 * Where a cached decoding call's new tokens sit: n new tokens per sequence after L cached ones, the
 * first at absolute position {@code position}, each query seeing itself and at most {@code window - 1}
 * keys before it. Every size is known only when the graph runs (a server feeds any batch, any number
 * of new tokens, any cache length), so the reshapes here take them as tensors where the training
 * graph's layers use constants.
 *
 * @param batch B, int32 scalar
 * @param steps n, int32 scalar, new tokens per sequence
 * @param cached L, int32 scalar, cached keys per sequence
 * @param position int32 scalar, the absolute position of the first new token
 * @param window W, the most keys a query sees (itself included)
 */
public record DecodeSpan(Operand<TInt32> batch, Operand<TInt32> steps, Operand<TInt32> cached, Operand<TInt32> position, int window) {

  public DecodeSpan {
    checkArgument(window >= 1, "the attention window (%s) must be >= 1", window);
  }

  /** [T, L + T], true where a new query may see a key (see {@link Attention#slidingWindow}). */
  public Operand<TBool> visible(Ops tf) {
    return Attention.slidingWindow(tf, steps, cached, window);
  }

  /** L + n, the keys after this call. */
  public Operand<TInt32> keys(Ops tf) {
    return tf.math.add(cached, steps);
  }

  /** [B, n, ...] -> [B*n, width]. */
  public <T extends TType> Operand<T> flatten(Ops tf, Operand<T> x, int width) {
    return tf.reshape(x, tf.constant(new int[] {-1, width}));
  }

  /** [B*n, width] -> [B, n, width]. */
  public <T extends TType> Operand<T> unflatten(Ops tf, Operand<T> x, int width) {
    return tf.reshape(x, tf.stack(List.of(batch, tf.constant(-1), tf.constant(width))));
  }

  /** [B*n, H*dh] (or [B*n, H, dh]) -> [B, H, n, dh]. */
  public <T extends TType> Operand<T> heads(Ops tf, Operand<T> x, int heads, int headDim) {
    Operand<T> shaped = tf.reshape(x, tf.stack(List.of(batch, tf.constant(-1), tf.constant(heads), tf.constant(headDim)))); // [B, n, H, dh]
    return tf.linalg.transpose(shaped, tf.constant(new int[] {0, 2, 1, 3}));
  }

  /** [B, H, n, dh] -> [B*n*H, dh], token-major: row (token, head). */
  public <T extends TType> Operand<T> perHead(Ops tf, Operand<T> x, int headDim) {
    return tf.reshape(tf.linalg.transpose(x, tf.constant(new int[] {0, 2, 1, 3})), tf.constant(new int[] {-1, headDim}));
  }

  /** Appends the new keys (or values) [B, H, n, dh] to the cached ones [B, H, L, dh]. */
  public <T extends TType> Operand<T> append(Ops tf, Operand<T> cachedRows, Operand<T> newRows) {
    return tf.concat(List.of(cachedRows, newRows), tf.constant(2));
  }
}
