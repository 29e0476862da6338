package io.switchhead.graph.config;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.base.Preconditions;

/**
 * SwitchHead attention (SWITCHHEAD.md section 1): dense Q and K, expert mixtures for V and O.
 *
 * @param heads attention matrices per layer (H); the paper starts at 2
 * @param experts experts per head for V and for O (E); E = 1 is dense V/O with a sigmoid output gate
 * @param k experts chosen per head and token, in [1, E]
 * @param headDim channels per head (dh)
 * @param positional RoPE or XL
 * @param expertDropout probability that a (token, head, expert) score is masked before top-k, training only
 * @param kRule how many of the k a token uses in the value and output selections: all (fixed), or K
 *     per token from this layer's own attention (our dynamic-k SwitchHead, {@link AttentionK}), k
 *     being K_max
 */
public record SwitchHeadConfig(int heads, int experts, int k, int headDim, Positional positional, double expertDropout, KRule kRule)
    implements AttentionConfig {

  public SwitchHeadConfig {
    checkArgument(heads >= 1, "SwitchHead attention: heads (%s) must be >= 1", heads);
    checkArgument(experts >= 1, "SwitchHead attention: experts (%s) must be >= 1", experts);
    checkArgument(k >= 1 && k <= experts, "SwitchHead attention: k (%s) must be in [1, experts = %s]", k, experts);
    checkArgument(headDim >= 2, "SwitchHead attention: headDim (%s) must be >= 2", headDim);
    Preconditions.checkNotNull(positional, "SwitchHead attention: positional is missing (ROPE or XL)");
    checkArgument(positional != Positional.ROPE || (headDim / 2) % 2 == 0,
        "SwitchHead attention: headDim (%s) must make headDim/2 even: RoPE rotates headDim/2 channels in two halves", headDim);
    checkArgument(
        expertDropout >= 0 && expertDropout < 1,
        "SwitchHead attention: expertDropout (%s) must be in [0, 1)",
        expertDropout);
    Preconditions.checkNotNull(kRule, "SwitchHead attention: kRule is missing (e.g. {\"type\": \"fixed\"})");
    kRule.check("SwitchHead attention", k);
    checkArgument(!kRule.dynamic() || experts > 1,
        "SwitchHead attention: a dynamic kRule needs experts (%s) > 1: with one expert per head there is nothing to choose", experts);
  }

  /** Fixed k: every token uses its k experts per head. */
  public SwitchHeadConfig(int heads, int experts, int k, int headDim, Positional positional, double expertDropout) {
    this(heads, experts, k, headDim, positional, expertDropout, KRule.fixed());
  }
}
