package io.switchhead.graph.layers;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.ops.attention.Attention;
import io.switchhead.ops.attention.Rope;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;
import org.tensorflow.types.family.TType;

/**
 * Where a cached decoding call's new tokens sit: n new tokens per sequence after L cached ones, the
 * first at absolute position {@code position}, each query seeing itself and at most {@code window - 1}
 * keys before it. Every size is known only when the graph runs (a server feeds any batch, any number
 * of new tokens, any cache length), so the reshapes here take them as tensors where the training
 * graph's layers use constants.
 *
 * <p>What every layer would compute alike is computed once here: the mask, the RoPE tables, the
 * keys' count (decoding is bound by the number of ops a call runs, not by their arithmetic).
 */
public final class DecodeSpan {

  private final Operand<TInt32> batch;
  private final Operand<TInt32> steps;
  private final Operand<TInt32> cached;
  private final Operand<TInt32> position;
  private final int window;
  private final Operand<TBool> visible;
  private final Operand<TInt32> keys;
  private final Map<Integer, Rope.Table<?>> ropeTables = new HashMap<>();

  private DecodeSpan(Ops tf, Operand<TInt32> batch, Operand<TInt32> steps, Operand<TInt32> cached, Operand<TInt32> position, int window) {
    checkArgument(window >= 1, "the attention window (%s) must be >= 1", window);
    this.batch = batch;
    this.steps = steps;
    this.cached = cached;
    this.position = position;
    this.window = window;
    this.visible = Attention.slidingWindow(tf, steps, cached, position, window);
    this.keys = tf.math.add(cached, steps);
  }

  /**
   * @param batch B, int32 scalar
   * @param steps n, int32 scalar, new tokens per sequence
   * @param cached L, int32 scalar, cached rows per sequence; those before absolute position 0 are padding
   * @param position int32 scalar, the absolute position of the first new token
   * @param window W, the most keys a query sees (itself included)
   */
  public static DecodeSpan of(Ops tf, Operand<TInt32> batch, Operand<TInt32> steps, Operand<TInt32> cached, Operand<TInt32> position,
      int window) {
    return new DecodeSpan(tf, batch, steps, cached, position, window);
  }

  public Operand<TInt32> batch() {
    return batch;
  }

  public Operand<TInt32> steps() {
    return steps;
  }

  public Operand<TInt32> cached() {
    return cached;
  }

  public Operand<TInt32> position() {
    return position;
  }

  public int window() {
    return window;
  }

  /** [n, L + n], true where a new query may see a key: within the window ({@link Attention#slidingWindow}) and a token, not padding. */
  public Operand<TBool> visible() {
    return visible;
  }

  /** The RoPE table of the new tokens' positions for heads of {@code headDim} (queries and keys share it). */
  @SuppressWarnings("unchecked")
  public <T extends TFloating> Rope.Table<T> rope(Ops tf, int headDim, Class<T> type) {
    return (Rope.Table<T>) ropeTables.computeIfAbsent(headDim, dh -> Rope.table(tf, steps, position, dh, type));
  }

  /** L + n, the keys after this call. */
  public Operand<TInt32> keys() {
    return keys;
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

  /** The cache's keys and values [B, H, L, dh] with the new tokens' [B, H, n, dh] after them. */
  public <T extends TFloating> KeyValues<T> append(Ops tf, KeyValues<T> cache, Operand<T> keys, Operand<T> values) {
    return new KeyValues<>(tf.concat(List.of(cache.keys(), keys), tf.constant(2)), tf.concat(List.of(cache.values(), values), tf.constant(2)));
  }
}
