package io.switchhead.graph.model;

import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.layers.DecodeSpan;
import io.switchhead.graph.layers.KeyValues;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.params.ParamStore;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Unstack;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Incremental decoding with a cache the caller keeps: n new tokens per sequence in, their logits
 * out, and the cache with them. A server is stateless, so the cache travels with each call: per
 * layer the keys and values of the tokens so far (see {@link io.switchhead.graph.layers.KeyValues}),
 * stacked over layers, and the absolute position of the next token. An empty cache (L = 0, position
 * 0) starts a sequence.
 *
 * <p>The cache comes back at its full capacity, W - 1 rows, the newest last, whatever the position:
 * before W - 1 tokens the leading rows are zeros that no query sees. So every call after the first
 * has the same shapes, and a compiled decoding step (XLA compiles for each shape it meets) compiles
 * once instead of once per token. A cache given with fewer rows (the rows of the tokens so far, as
 * an empty one is) is padded in front to the capacity.
 *
 * <p>Each query sees itself and the {@link #window} - 1 tokens before it, the most it saw in
 * training: the context T for RoPE models, memory plus chunk, 2T, for XL models. Up to the window
 * this is the full-prefix forward pass ({@link ForwardGraph}) to float32 rounding. Past it the
 * window slides: the cache keeps the last {@link #cacheCapacity} rows, and RoPE keeps rotating by the
 * absolute position (its scores depend only on the distance, so a query sees the same relative
 * positions it saw in training). That is not what re-running the model on the last T tokens would
 * give: there the first token of the window sees nothing before it, here every token sees W - 1.
 *
 * <p>Shapes: layers, B batch, H heads, L cached rows, dh head width, n new tokens, V vocabulary.
 */
public final class DecodeGraph {

  /**
   * @param tokens int32 [B, n]
   * @param position int32 scalar, the absolute position of the first new token (the number of tokens before it)
   * @param keys float32 [layers, B, H, L, dh]
   * @param values float32 [layers, B, H, L, dh]
   */
  public record Inputs(Operand<TInt32> tokens, Operand<TInt32> position, Operand<TFloat32> keys, Operand<TFloat32> values) {}

  /**
   * @param logits float32 [B, n, V]
   * @param position int32 scalar, the next call's position
   * @param keys float32 [layers, B, H, W - 1, dh], the next call's cache (at capacity, see above)
   * @param values float32 [layers, B, H, L', dh]
   */
  public record Output(Operand<TFloat32> logits, Operand<TInt32> position, Operand<TFloat32> keys, Operand<TFloat32> values) {}

  private DecodeGraph() {}

  /** W, the most keys a query sees, itself included: T with RoPE, M + T = 2T with an XL memory. */
  public static int window(ModelConfig c) {
    return c.hasMemory() ? 2 * c.context() : c.context();
  }

  /** Rows the cache keeps at most, W - 1: the query itself is its window's last key. */
  public static int cacheCapacity(ModelConfig c) {
    return window(c) - 1;
  }

  /** The cache's shape, keys or values, for {@code batch} sequences of {@code rows} cached tokens. */
  public static Shape cacheShape(ModelConfig c, long batch, long rows) {
    return Shape.of(c.layers(), batch, c.attention().heads(), rows, c.attention().headDim());
  }

  /** Builds the call over {@code store}'s parameters, in an evaluation context. */
  public static Output build(ModelConfig c, ParamStore store, LayerContext ctx, Inputs in) {
    Ops tf = ctx.tf();
    Operand<TInt32> tokensShape = tf.shape(in.tokens());
    Operand<TInt32> batch = tf.gather(tokensShape, tf.constant(0), tf.constant(0));
    Operand<TInt32> steps = tf.gather(tokensShape, tf.constant(1), tf.constant(0));
    int capacity = cacheCapacity(c);
    Operand<TInt32> given = tf.gather(tf.shape(in.keys()), tf.constant(3), tf.constant(0));
    DecodeSpan span = DecodeSpan.of(tf, batch, steps, tf.constant(capacity), in.position(), window(c));

    List<Operand<TFloat32>> keys = unstack(tf, atCapacity(tf, in.keys(), given, capacity), c.layers());
    List<Operand<TFloat32>> values = unstack(tf, atCapacity(tf, in.values(), given, capacity), c.layers());
    List<KeyValues<TFloat32>> cache = new ArrayList<>();
    for (int i = 0; i < c.layers(); i++) {
      cache.add(new KeyValues<>(keys.get(i), values.get(i)));
    }
    LanguageModel.DecodedModel decoded = LanguageModel.decode(c, store.root(), ctx, in.tokens(), cache, span);

    List<Operand<TFloat32>> nextKeys = new ArrayList<>();
    List<Operand<TFloat32>> nextValues = new ArrayList<>();
    for (KeyValues<TFloat32> kv : decoded.keysValues()) {
      nextKeys.add(kv.keys());
      nextValues.add(kv.values());
    }
    // Keep the newest capacity rows of the capacity + n: start at n.
    Operand<TInt32> begin = tf.stack(List.of(tf.constant(0), tf.constant(0), tf.constant(0), steps, tf.constant(0)));
    Operand<TInt32> size = tf.constant(new int[] {-1, -1, -1, capacity, -1});
    return new Output(decoded.logits(), tf.math.add(in.position(), steps),
        tf.slice(tf.stack(nextKeys), begin, size), tf.slice(tf.stack(nextValues), begin, size));
  }

  /** [layers, B, H, L, dh] with L <= capacity, zeros in front up to the capacity (none when L is the capacity). */
  private static Operand<TFloat32> atCapacity(Ops tf, Operand<TFloat32> cache, Operand<TInt32> rows, int capacity) {
    Operand<TInt32> front = tf.math.sub(tf.constant(capacity), rows);
    Operand<TInt32> none = tf.constant(new int[] {0, 0});
    Operand<TInt32> paddings = tf.stack(List.of(none, none, none, tf.stack(List.of(front, tf.constant(0))), none)); // [5, 2]
    return tf.pad(cache, paddings, tf.constant(0f));
  }

  private static List<Operand<TFloat32>> unstack(Ops tf, Operand<TFloat32> stacked, int layers) {
    return new ArrayList<>(tf.unstack(stacked, (long) layers, Unstack.axis(0L)).output());
  }
}
