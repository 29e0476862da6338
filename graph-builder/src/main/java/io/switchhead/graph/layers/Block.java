package io.switchhead.graph.layers;

import com.google.common.collect.ImmutableList;
import io.switchhead.graph.config.DenseAttentionConfig;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.FeedForwardConfig;
import io.switchhead.graph.config.MhMoeConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.ModelDims;
import io.switchhead.graph.config.PeerConfig;
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
   * @param index the block's place in the model, from 0 (feed-forwards may differ by block)
   * @param x [B, T, D]
   * @param memory [B, M, D] or null
   */
  public static <T extends TFloating> Output<T> apply(ModelConfig c, int index, ParamScope p, LayerContext ctx, Operand<T> x,
      Operand<T> memory) {
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
    TokenImportance<T> importance; // the attention's, for a dynamic-k feed-forward
    if (c.attention() instanceof DenseAttentionConfig dense) {
      DenseAttention.Output<T> da = DenseAttention.applyWithImportance(dense, dims, attentionScope, ctx, attentionInputs);
      attended = da.output();
      importance = da.importance();
    } else {
      SwitchHeadAttention.Output<T> sh = SwitchHeadAttention.apply((SwitchHeadConfig) c.attention(), dims, attentionScope, ctx, attentionInputs);
      attended = sh.output();
      usage.addAll(sh.usage());
      importance = sh.importance();
    }
    Operand<T> x1 = tf.math.add(x, dropout(ctx, tf, attended, c.dropout(), p.path() + "/attention/dropout"));
    Operand<T> x2 = feedForward(c, index, p, ctx, x1, aux, usage, importance);
    return new Output<>(x2, aux.build(), usage.build());
  }

  /**
   * One cached decoding call (evaluation only): the new tokens x [B, n, D] attend to themselves and
   * to the cached keys and values of the tokens before them. With XL attention the cache takes the
   * place of the memory: its keys and values are those of LN(memory rows), computed when those rows
   * were new.
   */
  public static <T extends TFloating> Decoded<T> decode(ModelConfig c, int index, ParamScope p, LayerContext ctx, Operand<T> x,
      KeyValues<T> cache, DecodeSpan span) {
    Ops tf = p.ops();
    Operand<T> h = LayerNorm.apply(p.child("attention_norm"), tf, x, c.dModel());
    ParamScope attentionScope = p.child("attention");
    Decoded<T> attended;
    TokenImportance<T> importance;
    if (c.attention() instanceof DenseAttentionConfig dense) {
      DecodedWithImportance<T> da = DenseAttention.decodeWithImportance(dense, c.dims(), attentionScope, ctx, h, cache, span);
      attended = da.decoded();
      importance = da.importance();
    } else {
      DecodedWithImportance<T> sh =
          SwitchHeadAttention.decodeWithImportance((SwitchHeadConfig) c.attention(), c.dims(), attentionScope, ctx, h, cache, span);
      attended = sh.decoded();
      importance = sh.importance();
    }
    Operand<T> x1 = tf.math.add(x, attended.output());
    // The feed-forward works on each token alone: it sees the new tokens as B*n sequences of one
    // (a dynamic k still reads the importance rows [B, n], which flatten in the same token order).
    Operand<T> perToken = tf.reshape(x1, tf.constant(new int[] {-1, 1, c.dModel()}));
    Operand<T> x2 = feedForward(c, index, p, ctx, perToken, ImmutableList.builder(), ImmutableList.builder(), importance);
    return new Decoded<>(span.unflatten(tf, x2, c.dModel()), attended.keysValues());
  }

  /**
   * {@code x + dropout(ff(LN(x)))}, its auxiliary losses and usage added to the builders.
   *
   * @param importance the token importance of the block's attention (read by a dynamic-k feed-forward only)
   */
  private static <T extends TFloating> Operand<T> feedForward(ModelConfig c, int index, ParamScope p, LayerContext ctx, Operand<T> x,
      ImmutableList.Builder<Operand<T>> aux, ImmutableList.Builder<ExpertUsage> usage, TokenImportance<T> importance) {
    Ops tf = p.ops();
    ModelDims dims = c.dims();
    Operand<T> h2 = LayerNorm.apply(p.child("ff_norm"), tf, x, c.dModel());
    ParamScope ffScope = p.child("ff");
    Operand<T> ff;
    FeedForwardConfig config = c.feedForward().forBlock(index);
    if (config instanceof DenseFeedForwardConfig dense) {
      ff = DenseFeedForward.apply(dense, dims, ffScope, ctx, h2);
    } else if (config instanceof MhMoeConfig mh) {
      MhMoeFeedForward.Output<T> moe = MhMoeFeedForward.apply(mh, dims, ffScope, ctx, h2);
      ff = moe.output();
      aux.add(moe.balanceLoss());
      usage.add(moe.usage());
    } else if (config instanceof PeerConfig peerConfig) {
      PeerFeedForward.Output<T> peer = PeerFeedForward.apply(peerConfig, dims, ffScope, ctx, h2);
      ff = peer.output();
      usage.add(peer.usage());
    } else {
      SigmaMoeConfig sigma = (SigmaMoeConfig) config;
      Operand<T> tokenImportance = null;
      if (sigma.kRule().dynamic()) {
        tokenImportance = importance.queries(); // [B, T]
      }
      SigmaMoeFeedForward.Output<T> moe = SigmaMoeFeedForward.apply(sigma, dims, ffScope, ctx, h2, tokenImportance);
      ff = moe.output();
      aux.add(moe.entropyLoss());
      usage.add(moe.usage());
    }
    return tf.math.add(x, dropout(ctx, tf, ff, c.dropout(), p.path() + "/ff/dropout"));
  }

  private static <T extends TFloating> Operand<T> dropout(LayerContext ctx, Ops tf, Operand<T> x, double rate, String site) {
    return ctx.training() ? Dropout.apply(tf, x, rate, ctx.seedFor(site)) : x;
  }
}
