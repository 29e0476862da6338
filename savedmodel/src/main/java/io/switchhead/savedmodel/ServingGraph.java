package io.switchhead.savedmodel;

import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.model.ForwardGraph;
import io.switchhead.graph.params.ParamStore;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.AssertThat;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Squeeze;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The forward graph as a server runs it: any batch, any time up to the context, inputs checked
 * inside the graph. The model is built by {@link ForwardGraph} over a full context window: the
 * tokens are padded at the end to T and the logits cut back to the given time, which is exact
 * because attention is causal (a position never sees the padding after it) and every other layer,
 * expert routing included, works on each token alone. XL models run without memory, as generation
 * does. The batch reaches the layers as a dynamic token count, which the plain graph's segmented
 * expert dispatch takes.
 *
 * <p>The checks are graph ops, not Java: a server feeds tensors straight to the graph, and
 * TensorFlow's gather returns zeros for out-of-range ids on a GPU instead of failing.
 *
 * @param tokens int32 [batch, time], the placeholder {@link ServingSignatures#TOKENS}
 * @param logits float32 [batch, time, vocab]
 * @param logprobs float32 [batch, vocab], log-softmax of the last position
 */
record ServingGraph(Placeholder<TInt32> tokens, Operand<TFloat32> logits, Operand<TFloat32> logprobs) {

  /** Builds it over {@code store}'s parameters (evaluation mode, the plain graph's expert dispatch). */
  static ServingGraph build(Ops tf, ModelConfig c, ParamStore store) {
    int t = c.context();
    int v = c.vocabSize();
    Placeholder<TInt32> tokens = tf.withName(ServingSignatures.TOKENS).placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, -1)));
    Ops checks = tf.withSubScope("input_checks");
    Operand<TInt32> shape = checks.shape(tokens);
    Operand<TInt32> batch = checks.gather(shape, checks.constant(0), checks.constant(0));
    Operand<TInt32> time = checks.gather(shape, checks.constant(1), checks.constant(0));
    AssertThat batchOk = checks.withName("batch_not_empty").assertThat(checks.math.greaterEqual(batch, checks.constant(1)),
        List.of(checks.constant("tokens: the batch dimension must be at least 1, got"), batch));
    Operand<TBool> timeInRange = checks.math.logicalAnd(checks.math.greaterEqual(time, checks.constant(1)),
        checks.math.lessEqual(time, checks.constant(t)));
    AssertThat timeOk = checks.withName("time_within_context").assertThat(timeInRange,
        List.of(checks.constant("tokens: the time dimension must be in [1, " + t + "] (at most the context), got"), time));
    Operand<TInt32> lowest = checks.min(tokens, checks.constant(new int[] {0, 1}));
    Operand<TInt32> highest = checks.max(tokens, checks.constant(new int[] {0, 1}));
    AssertThat idsOk = checks.withName("token_ids_within_vocabulary").assertThat(
        checks.math.logicalAnd(checks.math.greaterEqual(lowest, checks.constant(0)), checks.math.less(highest, checks.constant(v))),
        List.of(checks.constant("tokens: every token id must be in [0, " + v + "), got ids from"), lowest, checks.constant("to"), highest));
    Operand<TInt32> checked = checks.withControlDependencies(List.of(batchOk, timeOk, idsOk)).identity(tokens);

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
    return new ServingGraph(tokens, logits, logprobs);
  }
}
