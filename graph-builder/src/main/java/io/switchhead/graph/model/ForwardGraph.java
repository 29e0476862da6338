package io.switchhead.graph.model;

import static com.google.common.base.Preconditions.checkState;

import com.google.common.collect.ImmutableList;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.layers.ExpertUsage;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.ShapeCheck;
import java.util.List;
import java.util.Optional;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The model's forward graph: tokens in, logits out; with targets, the losses; with an XL memory, the
 * memories in and the next chunk's memories out. Training, evaluation, generation, the SavedModel
 * export and the inspection tool all build the model through {@link #build}, so what each of them
 * runs is the same graph over the same parameter paths; they differ only in how the store binds the
 * parameters (variables, function arguments, values) and in the layer context (train or eval,
 * segmented or static-shape experts).
 */
public final class ForwardGraph {

  /**
   * @param tokens [B, T] int32 token ids in [0, vocabSize)
   * @param targets [B, T] the next token of each position, for the losses; empty for logits only
   * @param memories XL: one [B, M, D] memory per layer (the previous chunk's layer inputs); empty for
   *     none (RoPE models, or the first chunk)
   */
  public record Inputs(Operand<TInt32> tokens, Optional<Operand<TInt32>> targets, ImmutableList<Operand<TFloat32>> memories) {

    public Inputs {
      memories = ImmutableList.copyOf(memories);
    }

    /** Logits only, no memory. */
    public static Inputs tokens(Operand<TInt32> tokens) {
      return new Inputs(tokens, Optional.empty(), ImmutableList.of());
    }

    /** With the targets, so the losses are built too. */
    public Inputs withTargets(Operand<TInt32> newTargets) {
      return new Inputs(tokens, Optional.of(newTargets), memories);
    }

    /** With one XL memory per layer. */
    public Inputs withMemories(List<Operand<TFloat32>> newMemories) {
      return new Inputs(tokens, targets, ImmutableList.copyOf(newMemories));
    }
  }

  /**
   * @param total the loss a step minimises: the LM loss plus the auxiliary losses (sigma-MoE entropy
   *     regularisers), scalar
   * @param lm the mean token cross-entropy in nats, scalar
   */
  public record Losses(Operand<TFloat32> total, Operand<TFloat32> lm) {}

  /**
   * @param logits [B, T, V]
   * @param losses present when the inputs had targets
   * @param usage per layer and selection, the entropy of mean expert usage (for logs) and the chosen experts
   * @param nextMemories XL: each layer's input for this chunk [B, T, D], the next chunk's memory;
   *     empty for RoPE models
   */
  public record Output(Operand<TFloat32> logits, Optional<Losses> losses, ImmutableList<ExpertUsage> usage,
      ImmutableList<Operand<TFloat32>> nextMemories) {

    /** The losses; the forward graph must have been built with targets. */
    public Losses requireLosses() {
      checkState(losses.isPresent(), "this forward graph was built without targets, so it has no losses");
      return losses.get();
    }
  }

  private ForwardGraph() {}

  /** Builds the model over {@code store}'s parameters (creating them, for a fresh variable store). */
  public static Output build(ModelConfig c, ParamStore store, LayerContext ctx, Inputs in) {
    Ops tf = ctx.tf();
    LanguageModel.Output<TFloat32> out = LanguageModel.apply(c, store.root(), ctx, in.tokens(), in.memories());
    Optional<Losses> losses = in.targets().map(targets -> losses(tf, c, out, targets));
    return new Output(out.logits(), losses, out.expertUsageEntropy(), out.nextMemories());
  }

  private static Losses losses(Ops tf, ModelConfig c, LanguageModel.Output<TFloat32> out, Operand<TInt32> targets) {
    ShapeCheck.require("model", "targets [B, T]", targets, ShapeCheck.ANY, c.context());
    Operand<TFloat32> logits = tf.reshape(out.logits(), tf.constant(new int[] {-1, c.vocabSize()}));
    Operand<TFloat32> perToken =
        tf.nn.sparseSoftmaxCrossEntropyWithLogits(logits, tf.reshape(targets, tf.constant(new int[] {-1}))).loss();
    Operand<TFloat32> lm = tf.math.mean(perToken, tf.constant(0));
    return new Losses(tf.math.add(lm, out.auxiliaryLoss()), lm);
  }
}
