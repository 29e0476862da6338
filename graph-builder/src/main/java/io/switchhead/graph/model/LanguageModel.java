package io.switchhead.graph.model;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.layers.Block;
import io.switchhead.graph.layers.DecodeSpan;
import io.switchhead.graph.layers.Decoded;
import io.switchhead.graph.layers.KeyValues;
import io.switchhead.graph.layers.ExpertUsage;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.layers.LayerNorm;
import io.switchhead.graph.params.Initializer;
import io.switchhead.graph.params.ParamScope;
import io.switchhead.ops.Dropout;
import io.switchhead.ops.ShapeCheck;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The language model, read top to bottom like nanoGPT's forward: embed, blocks, final LayerNorm,
 * untied output layer. Parameter paths: {@code embedding}, {@code layers/<i>/...}, {@code
 * final_norm/...}, {@code output/w}, {@code output/b}.
 */
public final class LanguageModel {

  /**
   * @param logits [B, T, V]
   * @param nextMemories XL: each layer's input for this chunk, [B, T, D], the next chunk's memory
   *     (its gradient is stopped where it is used); empty for RoPE models
   * @param auxiliaryLoss scalar added to the LM loss (sigma-MoE entropy regularisers); 0 if none
   * @param expertUsageEntropy per layer and selection, the entropy of mean expert usage (for logs) and the chosen experts
   */
  public record Output<T extends TFloating>(
      Operand<T> logits,
      ImmutableList<Operand<T>> nextMemories,
      Operand<T> auxiliaryLoss,
      ImmutableList<ExpertUsage> expertUsageEntropy) {}

  private LanguageModel() {}

  /**
   * @param tokens [B, T] int32 token ids in [0, vocabSize)
   * @param memories XL only: one [B, T, D] memory per layer (the previous chunk's layer inputs), or
   *     empty for no memory (the first chunk)
   */
  public static Output<TFloat32> apply(
      ModelConfig c, ParamScope root, LayerContext ctx, Operand<TInt32> tokens, List<Operand<TFloat32>> memories) {
    return apply(c, root, ctx, tokens, memories, TFloat32.class);
  }

  /** The same in another float type (float64 for gradient checks). */
  public static <T extends TFloating> Output<T> apply(
      ModelConfig c, ParamScope root, LayerContext ctx, Operand<TInt32> tokens, List<Operand<T>> memories, Class<T> type) {
    Ops tf = ctx.tf();
    int t = c.context();
    int d = c.dModel();
    ShapeCheck.require("model", "tokens [B, T]", tokens, ShapeCheck.ANY, t);
    checkArgument(memories.isEmpty() || c.hasMemory(),
        "memories are for XL attention; this model uses %s", c.attention().positional());
    checkArgument(memories.isEmpty() || memories.size() == c.layers(),
        "need one memory per layer (%s), got %s", c.layers(), memories.size());

    Operand<T> x = embed(c, root, ctx, tokens, type); // [B, T, D]
    if (ctx.training()) {
      x = Dropout.apply(tf, x, c.dropout(), ctx.seedFor("embedding/dropout"));
    }

    List<Operand<T>> next = new ArrayList<>();
    List<Operand<T>> auxiliary = new ArrayList<>();
    ImmutableList.Builder<ExpertUsage> usage = ImmutableList.builder();
    for (int i = 0; i < c.layers(); i++) {
      Operand<T> memory = memories.isEmpty() ? null : memories.get(i);
      if (c.hasMemory()) {
        next.add(x);
      }
      Block.Output<T> block = Block.apply(c, i, root.child("layers").child(i), ctx, x, memory);
      x = block.output();
      auxiliary.addAll(block.auxiliaryLosses());
      usage.addAll(block.usage());
    }

    Operand<T> logits = tf.reshape(head(c, root, ctx, x), tf.constant(new int[] {-1, t, c.vocabSize()}));

    Operand<T> aux = auxiliary.isEmpty() ? tf.dtypes.cast(tf.constant(0f), type) : tf.math.addN(auxiliary);
    return new Output<>(logits, ImmutableList.copyOf(next), aux, usage.build());
  }

  /** One cached decoding call's logits [B, n, V] and each layer's keys and values of the cache and the new tokens. */
  public record DecodedModel(Operand<TFloat32> logits, ImmutableList<KeyValues<TFloat32>> keysValues) {}

  /**
   * The model over n new tokens per sequence that follow the cached ones (evaluation only; see
   * {@link DecodeGraph}): the same parameters and the same arithmetic per token as {@link #apply}.
   *
   * @param tokens [B, n]
   * @param cache one entry per layer, its keys and values [B, H, L, dh]
   */
  public static DecodedModel decode(ModelConfig c, ParamScope root, LayerContext ctx, Operand<TInt32> tokens,
      List<KeyValues<TFloat32>> cache, DecodeSpan span) {
    checkArgument(!ctx.training(), "decoding builds an evaluation graph");
    checkArgument(cache.size() == c.layers(), "need one cache entry per layer (%s), got %s", c.layers(), cache.size());
    Ops tf = ctx.tf();
    Operand<TFloat32> x = embed(c, root, ctx, tokens, TFloat32.class); // [B, n, D]
    ImmutableList.Builder<KeyValues<TFloat32>> keysValues = ImmutableList.builder();
    for (int i = 0; i < c.layers(); i++) {
      Decoded<TFloat32> block = Block.decode(c, i, root.child("layers").child(i), ctx, x, cache.get(i), span);
      x = block.output();
      keysValues.add(block.keysValues());
    }
    return new DecodedModel(span.unflatten(tf, head(c, root, ctx, x), c.vocabSize()), keysValues.build());
  }

  private static <T extends TFloating> Operand<T> embed(ModelConfig c, ParamScope root, LayerContext ctx, Operand<TInt32> tokens, Class<T> type) {
    Operand<T> embedding = root.param("embedding", Shape.of(c.vocabSize(), c.dModel()), type, Initializer.normal(1.0));
    return ctx.tf().gather(embedding, tokens, ctx.tf().constant(0));
  }

  /** The final LayerNorm and the output layer: x [..., D] -> logits [N, V]. */
  private static <T extends TFloating> Operand<T> head(ModelConfig c, ParamScope root, LayerContext ctx, Operand<T> x) {
    Ops tf = ctx.tf();
    int d = c.dModel();
    Class<T> type = x.type();
    Operand<T> normed = LayerNorm.apply(root.child("final_norm"), tf, x, d);
    ParamScope out = root.child("output");
    Operand<T> w = out.param("w", Shape.of(d, c.vocabSize()), type, Initializer.normal(1 / Math.sqrt(d)));
    Operand<T> b = out.param("b", Shape.of(c.vocabSize()), type, Initializer.zeros());
    Operand<T> flat = tf.reshape(normed, tf.constant(new int[] {-1, d}));
    return tf.math.add(tf.linalg.matMul(flat, w), b);
  }
}
