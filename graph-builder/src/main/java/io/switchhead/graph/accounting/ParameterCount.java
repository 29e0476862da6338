package io.switchhead.graph.accounting;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import io.switchhead.graph.config.AttentionConfig;
import io.switchhead.graph.config.DenseAttentionConfig;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.FeedForwardConfig;
import io.switchhead.graph.config.MhMoeConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.PeerConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.PerBlockFeedForwardConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import java.util.stream.IntStream;

/**
 * Parameter counts from a config, by formula. The model tests check these against the parameters a
 * built graph actually creates.
 *
 * @param attention per layer
 * @param feedForward by layer (feed-forwards may differ by block)
 * @param norms per layer (two LayerNorms, scale and bias)
 * @param embedding token embedding [V, D]
 * @param output final LayerNorm and the untied output layer [D, V] with bias
 */
public record ParameterCount(long attention, ImmutableList<Long> feedForward, long norms, long embedding, long output) {

  public int layers() {
    return feedForward.size();
  }

  /** Parameters of block {@code layer}, from 0. */
  public long perLayer(int layer) {
    return attention + feedForward.get(layer) + norms;
  }

  public long total() {
    long blocks = 0;
    for (int i = 0; i < layers(); i++) {
      blocks += perLayer(i);
    }
    return blocks + embedding + output;
  }

  public static ParameterCount of(ModelConfig c) {
    long d = c.dModel();
    long v = c.vocabSize();
    ImmutableList<Long> feedForward = IntStream.range(0, c.layers()).mapToObj(i -> feedForward(c.feedForward().forBlock(i), d))
        .collect(ImmutableList.toImmutableList());
    return new ParameterCount(attention(c.attention(), d), feedForward, 4 * d, v * d, 2 * d + d * v + v);
  }

  /**
   * Scalars of the model's buffers, beside its parameters: state that is saved and exported but never
   * trained by gradients (PEER's BatchNorm moving mean and variance, h*dk each).
   */
  public static long buffers(ModelConfig c) {
    long total = 0;
    for (int i = 0; i < c.layers(); i++) {
      if (c.feedForward().forBlock(i) instanceof PeerConfig peer) {
        total += 2L * peer.heads() * peer.keyDim();
      }
    }
    return total;
  }

  /** Attention parameters of one layer (SWITCHHEAD.md section 1 for SwitchHead). */
  public static long attention(AttentionConfig a, long d) {
    long hd = (long) a.heads() * a.headDim();
    long positional = a.positional() == Positional.XL ? d * hd : 0;
    if (a instanceof SwitchHeadConfig s) {
      long he = (long) s.heads() * s.experts();
      long qk = 2 * d * hd;
      long vo = 2 * he * d * s.headDim();
      // E = 1: dense V and O and only the output gate's selection.
      long selection = s.experts() == 1 ? he * d : 2 * he * d;
      return qk + vo + selection + positional;
    }
    DenseAttentionConfig dense = (DenseAttentionConfig) a;
    // XL's u and v content/position biases: one [H, dh] each.
    long uv = dense.positional() == Positional.XL ? 2 * hd : 0;
    return 4 * d * hd + positional + uv;
  }

  /** Feed-forward parameters of one block's feed-forward (not a per-block one: pick its block's first). */
  public static long feedForward(FeedForwardConfig f, long d) {
    checkArgument(!(f instanceof PerBlockFeedForwardConfig), "a per-block feed-forward has a count per block: ask forBlock(i) first");
    if (f instanceof PeerConfig peer) {
      // query [D, h*dk], BatchNorm scale and bias [h*dk], two sub-key tables [sqrt N, dk/2], u and v [N, D].
      long queries = (long) peer.heads() * peer.keyDim();
      return d * queries + 2 * queries + (long) peer.subKeys() * peer.keyDim() + 2L * peer.experts() * d;
    }
    if (f instanceof SigmaMoeConfig m) {
      return 2L * m.experts() * m.expertSize() * d + (long) m.experts() * d;
    }
    if (f instanceof MhMoeConfig mh) {
      long w = mh.subTokenWidth(Math.toIntExact(d));
      long e = mh.experts();
      // head and merge projections with biases, the router [E, w], and three [w, G] matrices per expert
      return 2 * (d * d + d) + e * w + 3 * e * w * mh.expertSize();
    }
    long h = ((DenseFeedForwardConfig) f).hidden();
    return 2 * d * h + h + d;
  }
}
