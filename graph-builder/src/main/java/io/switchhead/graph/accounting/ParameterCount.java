package io.switchhead.graph.accounting;

import io.switchhead.graph.config.AttentionConfig;
import io.switchhead.graph.config.DenseAttentionConfig;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.FeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;

/**
 * Parameter counts from a config, by formula. The model tests check these against the parameters a
 * built graph actually creates.
 *
 * @param attention per layer
 * @param feedForward per layer
 * @param norms per layer (two LayerNorms, scale and bias)
 * @param embedding token embedding [V, D]
 * @param output final LayerNorm and the untied output layer [D, V] with bias
 */
public record ParameterCount(long attention, long feedForward, long norms, long embedding, long output, int layers) {

  public long perLayer() {
    return attention + feedForward + norms;
  }

  public long total() {
    return layers * perLayer() + embedding + output;
  }

  public static ParameterCount of(ModelConfig c) {
    long d = c.dModel();
    long v = c.vocabSize();
    return new ParameterCount(attention(c.attention(), d), feedForward(c.feedForward(), d), 4 * d, v * d, 2 * d + d * v + v, c.layers());
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

  /** Feed-forward parameters of one layer. */
  public static long feedForward(FeedForwardConfig f, long d) {
    if (f instanceof SigmaMoeConfig m) {
      return 2L * m.experts() * m.expertSize() * d + (long) m.experts() * d;
    }
    long h = ((DenseFeedForwardConfig) f).hidden();
    return 2 * d * h + h + d;
  }
}
