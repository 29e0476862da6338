package io.switchhead.savedmodel;

import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.model.DecodeGraph;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.AssertThat;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The served graph's checks of what a client feeds, as graph ops: a server feeds tensors straight
 * to the graph, and TensorFlow's gather returns zeros for out-of-range ids on a GPU instead of
 * failing. Each failed check is an InvalidArgument error whose message names the input and what
 * was wrong with it. Checked inputs pass through an identity that runs after every check.
 */
final class InputChecks {

  private final Ops checks;
  private final List<AssertThat> asserts = new ArrayList<>();

  private InputChecks(Ops tf, String scope) {
    this.checks = tf.withSubScope(scope);
  }

  static InputChecks in(Ops tf, String scope) {
    return new InputChecks(tf, scope);
  }

  /** Tokens int32 [batch, time]: batch at least 1, time in [1, context], every id in [0, vocab). Returns time. */
  Operand<TInt32> tokens(ModelConfig c, Operand<TInt32> tokens) {
    int t = c.context();
    int v = c.vocabSize();
    Operand<TInt32> batch = dimension(tokens, 0);
    Operand<TInt32> time = dimension(tokens, 1);
    require("batch_not_empty", checks.math.greaterEqual(batch, checks.constant(1)),
        checks.constant("tokens: the batch dimension must be at least 1, got"), batch);
    require("time_within_context", checks.math.logicalAnd(checks.math.greaterEqual(time, checks.constant(1)),
        checks.math.lessEqual(time, checks.constant(t))),
        checks.constant("tokens: the time dimension must be in [1, " + t + "] (at most the context), got"), time);
    Operand<TInt32> lowest = checks.min(tokens, checks.constant(new int[] {0, 1}));
    Operand<TInt32> highest = checks.max(tokens, checks.constant(new int[] {0, 1}));
    require("token_ids_within_vocabulary",
        checks.math.logicalAnd(checks.math.greaterEqual(lowest, checks.constant(0)), checks.math.less(highest, checks.constant(v))),
        checks.constant("tokens: every token id must be in [0, " + v + "), got ids from"), lowest, checks.constant("to"), highest);
    return time;
  }

  /**
   * The decoding cache: keys and values of one shape, the tokens' batch, and either the capacity's
   * rows (what every call returns, padded in front until the position reaches the capacity) or
   * exactly the rows of the tokens so far, min(position, capacity) (an empty cache at position 0). A
   * cache of any other length, from another sequence or a call that was skipped early on, is
   * refused instead of silently attended to.
   */
  void cache(ModelConfig c, Operand<TInt32> tokens, Operand<TInt32> position, Operand<TFloat32> keys, Operand<TFloat32> values) {
    int capacity = DecodeGraph.cacheCapacity(c);
    Operand<TInt32> keysShape = checks.shape(keys);
    Operand<TInt32> valuesShape = checks.shape(values);
    require("cache_keys_and_values_match", checks.reduceAll(checks.math.equal(keysShape, valuesShape), checks.constant(0)),
        checks.constant("cache_keys and cache_values must have one shape, got"), keysShape, checks.constant("and"), valuesShape);
    Operand<TInt32> cacheBatch = dimension(keys, 1);
    Operand<TInt32> batch = dimension(tokens, 0);
    require("cache_batch_matches_tokens", checks.math.equal(cacheBatch, batch),
        checks.constant("cache_keys: the batch dimension (1) must equal the batch of tokens, got"), cacheBatch, checks.constant("and"), batch);
    Operand<TInt32> rows = dimension(keys, 3);
    require("position_not_negative", checks.math.greaterEqual(position, checks.constant(0)),
        checks.constant("position must be >= 0 (0 starts a sequence), got"), position);
    Operand<TInt32> expected = checks.math.minimum(checks.math.maximum(position, checks.constant(0)), checks.constant(capacity)); // a negative position fails its own check
    require("cache_rows_match_position",
        checks.math.logicalOr(checks.math.equal(rows, expected), checks.math.equal(rows, checks.constant(capacity))),
        checks.constant("cache_keys: dimension 3 must be the capacity, " + capacity + ", or the cached tokens, min(position, " + capacity
            + "); feed back the cache and position of the previous call (empty and 0 to start). Got rows"),
        rows, checks.constant("at position"), position);
  }

  /** The tokens' batch at most {@code max}; {@code why} ends the message. */
  void batchAtMost(Operand<TInt32> tokens, int max, String why) {
    Operand<TInt32> batch = dimension(tokens, 0);
    require("batch_within_compiled_limit", checks.math.lessEqual(batch, checks.constant(max)),
        checks.constant("tokens: the batch dimension must be at most " + max + " here (" + why + "), got"), batch);
  }

  /** {@code input} once every check has passed. */
  <T extends org.tensorflow.types.family.TType> Operand<T> passed(Operand<T> input) {
    return checks.withControlDependencies(List.copyOf(asserts)).identity(input);
  }

  private Operand<TInt32> dimension(Operand<?> x, int axis) {
    return checks.gather(checks.shape(x), checks.constant(axis), checks.constant(0));
  }

  private void require(String name, Operand<TBool> condition, Operand<?>... message) {
    asserts.add(checks.withName(name).assertThat(condition, List.of(message)));
  }
}
