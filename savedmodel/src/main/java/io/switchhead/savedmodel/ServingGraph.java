package io.switchhead.savedmodel;

import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.model.CompiledDecodeStep;
import io.switchhead.graph.model.DecodeGraph;
import io.switchhead.graph.model.ForwardGraph;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.moe.MoeTuning;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.tensorflow.Operand;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Squeeze;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The model as a server runs it: any batch, inputs checked inside the graph ({@link InputChecks}),
 * two ways in over one set of variables.
 *
 * <p>The full window ({@code serving_default}, {@code next_token_logprobs}): the model is built by
 * {@link ForwardGraph} over a full context window; the tokens are padded at the end to T and the
 * logits cut back to the given time, which is exact because attention is causal (a position never
 * sees the padding after it) and every other layer, expert routing included, works on each token
 * alone. XL models run without memory, as generation does.
 *
 * <p>Cached decoding ({@code decode_step}): {@link DecodeGraph}, the cache passed in and out. Where
 * asked for, {@code decode_token} too: the same for one new token per sequence, compiled by XLA
 * ({@link CompiledDecodeStep}), for batches up to {@link CompiledDecodeStep#maxBatch}.
 *
 * <p>The batch reaches the layers as a dynamic token count, which the plain graph's segmented
 * expert dispatch takes.
 */
record ServingGraph(FullWindow fullWindow, DecodeStep decode, Optional<DecodeStep> decodeToken) {

  /**
   * @param tokens int32 [batch, time], the placeholder {@link ServingSignatures#TOKENS}
   * @param logits float32 [batch, time, vocab]
   * @param logprobs float32 [batch, vocab], log-softmax of the last position
   */
  record FullWindow(Placeholder<TInt32> tokens, Operand<TFloat32> logits, Operand<TFloat32> logprobs) {}

  /**
   * The inputs of {@code decode_step} and its outputs. Position and cache default to 0 and an empty
   * cache for the tokens' batch, so {@code decode_start} is the same graph fed the tokens alone.
   */
  record DecodeStep(Placeholder<TInt32> tokens, Operand<TInt32> position, Operand<TFloat32> keys, Operand<TFloat32> values,
      DecodeGraph.Output output) {}

  /** The signatures a server calls this graph by (their keys and tensor names in {@link ServingSignatures}). */
  List<Signature> signatures() {
    List<Signature> all = new ArrayList<>(List.of(
        Signature.builder().key(ServingSignatures.DEFAULT).methodName(ServingSignatures.PREDICT)
            .input(ServingSignatures.TOKENS, fullWindow.tokens()).output(ServingSignatures.LOGITS, fullWindow.logits()).build(),
        Signature.builder().key(ServingSignatures.NEXT_TOKEN_LOGPROBS).methodName(ServingSignatures.PREDICT)
            .input(ServingSignatures.TOKENS, fullWindow.tokens()).output(ServingSignatures.LOGPROBS, fullWindow.logprobs()).build(),
        decoding(ServingSignatures.DECODE_STEP, decode, true),
        decoding(ServingSignatures.DECODE_START, decode, false)));
    decodeToken.ifPresent(token -> all.add(decoding(ServingSignatures.DECODE_TOKEN, token, true)));
    return List.copyOf(all);
  }

  /** A decoding signature; without {@code cacheIn} it takes the tokens alone (position and cache at their defaults). */
  private static Signature decoding(String key, DecodeStep step, boolean cacheIn) {
    Signature.Builder b = Signature.builder().key(key).methodName(ServingSignatures.PREDICT).input(ServingSignatures.TOKENS, step.tokens());
    if (cacheIn) {
      b.input(ServingSignatures.POSITION, step.position()).input(ServingSignatures.CACHE_KEYS, step.keys())
          .input(ServingSignatures.CACHE_VALUES, step.values());
    }
    return b.output(ServingSignatures.LOGITS, step.output().logits()).output(ServingSignatures.POSITION, step.output().position())
        .output(ServingSignatures.CACHE_KEYS, step.output().keys()).output(ServingSignatures.CACHE_VALUES, step.output().values())
        .build();
  }

  /**
   * Builds both over {@code store}'s parameters (evaluation mode, the plain graph's expert dispatch),
   * and with {@code compiledDecoding} the XLA-compiled {@code decode_token}.
   */
  static ServingGraph build(Ops tf, ModelConfig c, ParamStore store, boolean compiledDecoding) {
    FullWindow full = fullWindow(tf, c, store); // at the root: tokens:0, logits:0, logprobs:0
    DecodeStep decode = decodeStep(tf.withSubScope("decode_step"), c, store.sharedWith(tf.withSubScope("decode_step")), false);
    Optional<DecodeStep> token = compiledDecoding
        ? Optional.of(decodeStep(tf.withSubScope("decode_token"), c, store, true)) : Optional.empty();
    return new ServingGraph(full, decode, token);
  }

  private static FullWindow fullWindow(Ops tf, ModelConfig c, ParamStore store) {
    int t = c.context();
    int v = c.vocabSize();
    Placeholder<TInt32> tokens = tf.withName(ServingSignatures.TOKENS).placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, -1)));
    InputChecks checks = InputChecks.in(tf, "input_checks");
    Operand<TInt32> time = checks.tokens(c, tokens);
    Operand<TInt32> checked = checks.passed(tokens);

    // [B, time] -> [B, T]: zeros after the last position, which no earlier position attends to.
    Operand<TInt32> padding = tf.stack(List.of(tf.constant(new int[] {0, 0}),
        tf.stack(List.of(tf.constant(0), tf.math.sub(tf.constant(t), time)))));
    Operand<TInt32> window = tf.ensureShape(tf.pad(checked, padding, tf.constant(0)), Shape.of(-1, t));
    Operand<TFloat32> full = ForwardGraph.build(c, store, LayerContext.eval(tf), ForwardGraph.Inputs.tokens(window)).logits(); // [B, T, V]
    Operand<TFloat32> cut = tf.slice(full, tf.constant(new int[] {0, 0, 0}), tf.stack(List.of(tf.constant(-1), time, tf.constant(-1))));
    Operand<TFloat32> logits = tf.withName(ServingSignatures.LOGITS).ensureShape(cut, Shape.of(-1, -1, v)); // [B, time, V]
    Operand<TFloat32> last = tf.squeeze(tf.slice(full, tf.stack(List.of(tf.constant(0), tf.math.sub(time, tf.constant(1)), tf.constant(0))),
        tf.constant(new int[] {-1, 1, v})), Squeeze.axis(List.of(1L))); // [B, V]
    Operand<TFloat32> logprobs = tf.withName(ServingSignatures.LOGPROBS).nn.logSoftmax(last);
    return new FullWindow(tokens, logits, logprobs);
  }

  /** @param compiled one new token per sequence, compiled ({@link CompiledDecodeStep}); else any number, op by op */
  private static DecodeStep decodeStep(Ops tf, ModelConfig c, ParamStore store, boolean compiled) {
    Placeholder<TInt32> tokens = tf.withName(ServingSignatures.TOKENS).placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, compiled ? 1 : -1)));
    // Not fed (decode_start, or TF Serving's REST API, which cannot send a 0-sized tensor): a new sequence.
    Operand<TInt32> batch = tf.gather(tf.shape(tokens), tf.constant(0), tf.constant(0));
    Operand<TFloat32> empty = tf.fill(tf.stack(List.of(tf.constant(c.layers()), batch, tf.constant(c.attention().heads()), tf.constant(0),
        tf.constant(c.attention().headDim()))), tf.constant(0f)); // [layers, B, H, 0, dh]
    Shape cache = DecodeGraph.cacheShape(c, -1, -1);
    Operand<TInt32> position = tf.withName(ServingSignatures.POSITION).placeholderWithDefault(tf.constant(0), Shape.scalar());
    Operand<TFloat32> keys = tf.withName(ServingSignatures.CACHE_KEYS).placeholderWithDefault(empty, cache);
    Operand<TFloat32> values = tf.withName(ServingSignatures.CACHE_VALUES).placeholderWithDefault(empty, cache);
    InputChecks checks = InputChecks.in(tf, "input_checks");
    checks.tokens(c, tokens);
    checks.cache(c, tokens, position, keys, values);
    if (compiled) {
      checks.batchAtMost(tokens, CompiledDecodeStep.maxBatch(c), "the gathered expert weights of a larger one pass "
          + MoeTuning.GATHERED_WEIGHTS_MAX_BYTES + " bytes; call " + ServingSignatures.DECODE_STEP + " instead");
    }
    DecodeGraph.Inputs in = new DecodeGraph.Inputs(checks.passed(tokens), checks.passed(position), checks.passed(keys), checks.passed(values));
    DecodeGraph.Output out = compiled ? CompiledDecodeStep.call(tf, c, store, in) : DecodeGraph.build(c, store, LayerContext.decode(tf), in);
    return new DecodeStep(tokens, position, keys, values, named(tf, c, out));
  }

  /** The outputs under names a reader of the graph finds, with their static shapes (the cache at its capacity). */
  private static DecodeGraph.Output named(Ops tf, ModelConfig c, DecodeGraph.Output out) {
    Shape cache = DecodeGraph.cacheShape(c, -1, DecodeGraph.cacheCapacity(c));
    return new DecodeGraph.Output(
        tf.withName("next_" + ServingSignatures.LOGITS).ensureShape(out.logits(), Shape.of(-1, -1, c.vocabSize())),
        tf.withName("next_" + ServingSignatures.POSITION).identity(out.position()),
        tf.withName("next_" + ServingSignatures.CACHE_KEYS).ensureShape(out.keys(), cache),
        tf.withName("next_" + ServingSignatures.CACHE_VALUES).ensureShape(out.values(), cache));
  }
}
