package io.switchhead.graph.config;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSortedSet;

/**
 * Named model configs: every row of SWITCHHEAD.md section 5, and small CPU models with their matched
 * dense baselines. Dense baselines follow the paper's matching rule: as many heads as SwitchHead's
 * H*E, head and feed-forward widths chosen so the parameter counts match.
 */
public final class Presets {

  /** SentencePiece vocabulary of the paper's word-level datasets. */
  private static final int BPE_8K = 8000;

  /** Byte-level vocabulary (Enwik8 and this project's default corpus). */
  private static final int BYTES = 256;

  private static final ImmutableMap<String, ModelConfig> PRESETS =
      ImmutableMap.<String, ModelConfig>builder()
          // The paper's models (section 5).
          .put("switchhead-47m-wikitext103", paper(BPE_8K, 412, 16, 256, switchHead(2, 5, 2, 76, Positional.XL), dense(2080), 0.1))
          .put("switchhead-47m-c4", paper(BPE_8K, 412, 16, 256, switchHead(2, 5, 3, 76, Positional.XL), dense(2080), 0.1))
          .put("dense-47m", paper(BPE_8K, 412, 16, 256, new DenseAttentionConfig(10, 41, Positional.XL), dense(2053), 0.1))
          .put("switchhead-262m-c4", paper(BPE_8K, 1024, 18, 512, switchHead(4, 4, 2, 112, Positional.XL), dense(4188), 0.2))
          .put("switchhead-262m-wikitext103", paper(BPE_8K, 1024, 18, 512, switchHead(2, 8, 4, 132, Positional.XL), dense(4147), 0.2))
          .put("dense-262m", paper(BPE_8K, 1024, 18, 512, new DenseAttentionConfig(16, 64, Positional.XL), dense(4110), 0.2))
          .put("switchhead-enwik8", paper(BYTES, 512, 12, 512, switchHead(2, 4, 2, 112, Positional.XL), dense(2088), 0.1))
          .put("dense-enwik8", paper(BYTES, 512, 12, 512, new DenseAttentionConfig(8, 64, Positional.XL), dense(2053), 0.1))
          .put("switchhead-rope-45m", paper(BPE_8K, 412, 16, 512, switchHead(2, 5, 3, 64, Positional.ROPE), dense(2092), 0.1))
          // SwitchAll: SwitchHead attention and the sigma-MoE feed-forward (16 experts of 128, k = 4).
          .put("switchall-47m", paper(BPE_8K, 412, 16, 256, switchHead(2, 5, 2, 76, Positional.XL), new SigmaMoeConfig(16, 128, 4, 0.0, 1e-4), 0.1))
          // Small byte-level models that train on a 2-core CPU in minutes; dense ones matched in parameters.
          .put("switchhead-tiny", paper(BYTES, 128, 4, 128, switchHead(2, 4, 2, 32, Positional.ROPE), dense(512), 0.0))
          .put("dense-tiny", paper(BYTES, 128, 4, 128, new DenseAttentionConfig(8, 16, Positional.ROPE), dense(584), 0.0))
          .put("switchall-tiny", paper(BYTES, 128, 4, 128, switchHead(2, 4, 2, 32, Positional.ROPE), new SigmaMoeConfig(8, 64, 2, 0.0, 1e-4), 0.0))
          // switchhead-tiny with dynamic k (our DA-MoE-style design): each token uses 1 to K_max = 2
          // experts per head in its value and output selections, by the importance attention gives it.
          .put("switchhead-dynk-tiny", paper(BYTES, 128, 4, 128, new SwitchHeadConfig(2, 4, 2, 32, Positional.ROPE, 0.0, AttentionK.ceil()), dense(512), 0.0))
          .put("switchhead-tiny-xl", paper(BYTES, 128, 4, 128, switchHead(2, 4, 2, 32, Positional.XL), dense(512), 0.0))
          // MH-MoE (h 4, 8 SwiGLU experts of 128, top-1, C = k*ceil(S*h/E)) in place of every second block's
          // feed-forward of switchhead-tiny: 131,584 parameters against dense(512)'s 131,712, so the model
          // matches switchhead-tiny (and so dense-tiny) within 256 parameters.
          .put("mhmoe-tiny", paper(BYTES, 128, 4, 128, switchHead(2, 4, 2, 32, Positional.ROPE),
              new PerBlockFeedForwardConfig(MhMoeConfig.paper(4, 8, 1, 128), dense(512), 1, 2), 0.0))
          .put("dense-tiny-xl", paper(BYTES, 128, 4, 128, new DenseAttentionConfig(8, 16, Positional.XL), dense(551), 0.0))
          // switchhead-tiny with PEER in the middle block (block 2 of 4), as the paper places it: 128^2
          // experts, then the paper's 1024^2 at small heads, k and key width for a 2-core CPU.
          .put("peer-tiny", paper(BYTES, 128, 4, 128, switchHead(2, 4, 2, 32, Positional.ROPE),
              new PerBlockFeedForwardConfig(peer(128 * 128, 4, 8, 32), dense(512), 2, 4), 0.0))
          .put("peer-1m-tiny", paper(BYTES, 128, 4, 128, switchHead(2, 4, 2, 32, Positional.ROPE),
              new PerBlockFeedForwardConfig(peer(1024 * 1024, 4, 8, 32), dense(512), 2, 4), 0.0))
          .buildOrThrow();

  private Presets() {}

  /** The preset called {@code name}; the error lists the known names. */
  public static ModelConfig get(String name) {
    ModelConfig config = PRESETS.get(name);
    checkArgument(config != null, "unknown preset '%s'; known presets: %s", name, names());
    return config;
  }

  public static ImmutableSortedSet<String> names() {
    return ImmutableSortedSet.copyOf(PRESETS.keySet());
  }

  private static SwitchHeadConfig switchHead(int heads, int experts, int k, int headDim, Positional positional) {
    return new SwitchHeadConfig(heads, experts, k, headDim, positional, 0.0);
  }

  /** PEER with GELU neurons (the paper names no activation) and Keras' BatchNorm defaults. */
  private static PeerConfig peer(int experts, int heads, int k, int keyDim) {
    return new PeerConfig(experts, heads, k, keyDim, PeerConfig.Activation.GELU, 0.99, 1e-3);
  }

  private static DenseFeedForwardConfig dense(int hidden) {
    return new DenseFeedForwardConfig(hidden);
  }

  private static ModelConfig paper(int vocab, int d, int layers, int context, AttentionConfig attention, FeedForwardConfig ff, double dropout) {
    return new ModelConfig(vocab, d, layers, context, attention, ff, dropout, ModelConfig.paperInitScale(layers));
  }
}
