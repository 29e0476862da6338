package io.switchhead.graph.config;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

/**
 * Dense multi-head attention, the baseline SwitchHead is compared with. With XL positions it has
 * Transformer-XL's u/v content and position biases.
 *
 * @param heads attention heads (matching rule: the SwitchHead model's H*E)
 * @param headDim channels per head
 * @param positional RoPE or XL
 */
public record DenseAttentionConfig(int heads, int headDim, Positional positional) implements AttentionConfig {

  public DenseAttentionConfig {
    checkArgument(heads >= 1, "dense attention: heads (%s) must be >= 1", heads);
    checkArgument(headDim >= 2, "dense attention: headDim (%s) must be >= 2", headDim);
    checkNotNull(positional, "dense attention: positional is missing (ROPE or XL)");
    checkArgument(positional != Positional.ROPE || (headDim / 2) % 2 == 0,
        "dense attention: headDim (%s) must make headDim/2 even: RoPE rotates headDim/2 channels in two halves", headDim);
  }
}
