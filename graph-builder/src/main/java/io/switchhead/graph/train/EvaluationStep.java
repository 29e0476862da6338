package io.switchhead.graph.train;

import com.google.common.collect.ImmutableList;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.layers.ExpertUsage;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.model.ForwardGraph;
import io.switchhead.graph.model.MemoryState;
import io.switchhead.graph.params.ParamStore;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Evaluation inside the training graph: the same parameters read by path, no dropout, the summed
 * token losses of a batch, and (XL) an evaluation memory of its own, so evaluating never disturbs
 * the training streams.
 *
 * @param lossSum summed token cross-entropy (nats) of the batch
 * @param step fetch {@link #lossSum} with this as target: it advances the evaluation memory
 * @param resetMemory zeroes the evaluation memory
 * @param usage the evaluation's expert selections, whose ids a run may fetch beside {@link #lossSum}
 *     at no extra cost (the loss needs them); with an XL memory the value selection chooses for the
 *     memory's tokens too, as it projects their values again
 */
record EvaluationStep(Operand<TFloat32> lossSum, Op step, Op resetMemory, ImmutableList<ExpertUsage> usage) {

  /** Builds it in the name scope {@code eval}, over the values of {@code store}'s parameters. */
  static EvaluationStep build(Ops root, ModelConfig config, int batch, ParamStore store, Operand<TInt32> inputs,
      Operand<TInt32> targets, MemoryState memory) {
    Ops tf = root.withSubScope("eval");
    // Parameters and buffers (BatchNorm moving statistics) by path.
    ForwardGraph.Output eval = ForwardGraph.build(config, store.sharedWith(tf), LayerContext.eval(tf),
        ForwardGraph.Inputs.tokens(inputs).withTargets(targets).withMemories(memory.reads(tf)));
    Operand<TFloat32> lossSum = tf.math.mul(eval.requireLosses().lm(), tf.constant((float) batch * config.context()));
    List<Op> advance = memory.assign(tf.withControlDependencies(List.of(lossSum)), eval.nextMemories());
    Op step = tf.withControlDependencies(advance).withName("eval_step").noOp();
    Op reset = tf.withControlDependencies(memory.reset(tf)).withName("reset_eval_memory").noOp();
    return new EvaluationStep(lossSum, step, reset, eval.usage());
  }
}
