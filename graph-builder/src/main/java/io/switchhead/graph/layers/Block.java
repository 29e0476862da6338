package io.switchhead.graph.layers;

import com.google.common.collect.ImmutableList;
import io.switchhead.graph.config.DenseAttentionConfig;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.ModelDims;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.params.ParamScope;
import io.switchhead.ops.Dropout;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.family.TFloating;

/**
 * One pre-LN block: {@code x + dropout(attention(LN(x)))}, then {@code x + dropout(ff(LN(x)))}. With
 * an XL memory the keys and values see LN(concat(memory, x)), the memory's gradient stopped.
 */
public final class Block {

  /** The block's output, its auxiliary losses (already weighted) and its expert-usage entropies. */
  public record Output<T extends TFloating>(Operand<T> output, ImmutableList<Operand<T>> auxiliaryLosses, ImmutableList<ExpertUsage> usage) {}

  private Block() {}

  /**
   * @param x [B, T, D]
   * @param memory [B, M, D] or null
   */
  public static <T extends TFloating> Output<T> apply(ModelConfig c, ParamScope p, LayerContext ctx, Operand<T> x, Operand<T> memory) {
    Ops tf = p.ops();
    int t = c.context();
    int d = c.dModel();
    // One LayerNorm over memory and chunk together; the queries are its last T rows.
    int m = memory == null ? 0 : (int) memory.shape().get(1);
    Operand<T> kvInput = memory == null ? x : tf.concat(List.of(tf.stopGradient(memory), x), tf.constant(1)); // [B, M+T, D]
    Operand<T> kv = LayerNorm.apply(p.child("attention_norm"), tf, kvInput, d);
    Operand<T> h = memory == null ? kv : tf.slice(kv, tf.constant(new int[] {0, m, 0}), tf.constant(new int[] {-1, t, d})); // [B, T, D]
    ImmutableList.Builder<Operand<T>> aux = ImmutableList.builder();
    ImmutableList.Builder<ExpertUsage> usage = ImmutableList.builder();

    ModelDims dims = c.dims();
    AttentionInputs<T> attentionInputs = new AttentionInputs<>(h, kv, t, m);
    ParamScope attentionScope = p.child("attention");
    Operand<T> attended;
    if (c.attention() instanceof DenseAttentionConfig dense) {
      attended = DenseAttention.apply(dense, dims, attentionScope, ctx, attentionInputs);
    } else {
      SwitchHeadAttention.Output<T> sh = SwitchHeadAttention.apply((SwitchHeadConfig) c.attention(), dims, attentionScope, ctx, attentionInputs);
      attended = sh.output();
      usage.addAll(sh.usage());
    }
    Operand<T> x1 = tf.math.add(x, dropout(ctx, tf, attended, c.dropout(), p.path() + "/attention/dropout"));

    Operand<T> h2 = LayerNorm.apply(p.child("ff_norm"), tf, x1, d);
    ParamScope ffScope = p.child("ff");
    Operand<T> ff;
    if (c.feedForward() instanceof DenseFeedForwardConfig dense) {
      ff = DenseFeedForward.apply(dense, dims, ffScope, ctx, h2);
    } else {
      SigmaMoeFeedForward.Output<T> moe = SigmaMoeFeedForward.apply((SigmaMoeConfig) c.feedForward(), dims, ffScope, ctx, h2);
      ff = moe.output();
      aux.add(moe.entropyLoss());
      usage.add(moe.usage());
    }
    Operand<T> x2 = tf.math.add(x1, dropout(ctx, tf, ff, c.dropout(), p.path() + "/ff/dropout"));
    return new Output<>(x2, aux.build(), usage.build());
  }

  private static <T extends TFloating> Operand<T> dropout(LayerContext ctx, Ops tf, Operand<T> x, double rate, String site) {
    return ctx.training() ? Dropout.apply(tf, x, rate, ctx.seedFor(site)) : x;
  }
}
