package io.switchhead.graph.config;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

/**
 * The sigma-MoE feed-forward of SwitchAll (SWITCHHEAD.md section 3): sigmoid gates, top-k experts of
 * size G, each ReLU(x K_e) V_e, no biases.
 *
 * @param experts E_ff (16 in the 47M model)
 * @param expertSize G, hidden width of one expert (128 in the paper)
 * @param k experts per token, in [1, experts] (4 in the paper)
 * @param expertDropout probability a (token, expert) score is masked before top-k, training only
 * @param entropyWeight lambda of the entropy regulariser (1e-4 at 47M, 1e-3 at 259M); 0 turns it off
 * @param hiddenDropout whether the block's dropout also acts on each expert's hidden ReLU(x K_e);
 *     off in the paper's configuration (its MoE layer has no dropout there), so off by default
 * @param kRule how many of the k a token uses: all (fixed), or K per token from the block's
 *     attention (our dynamic-k design, {@link AttentionK}), k being K_max
 */
public record SigmaMoeConfig(int experts, int expertSize, int k, double expertDropout, double entropyWeight, boolean hiddenDropout,
    KRule kRule)
    implements FeedForwardConfig {

  /** Fixed k, with or without dropout on the expert hidden. */
  public SigmaMoeConfig(int experts, int expertSize, int k, double expertDropout, double entropyWeight, boolean hiddenDropout) {
    this(experts, expertSize, k, expertDropout, entropyWeight, hiddenDropout, KRule.fixed());
  }

  /** No dropout on the expert hidden (the paper's layer), k by {@code kRule}. */
  public SigmaMoeConfig(int experts, int expertSize, int k, double expertDropout, double entropyWeight, KRule kRule) {
    this(experts, expertSize, k, expertDropout, entropyWeight, false, kRule);
  }

  public SigmaMoeConfig {
    checkArgument(experts >= 1, "sigma-MoE: experts (%s) must be >= 1", experts);
    checkArgument(expertSize >= 1, "sigma-MoE: expertSize (%s) must be >= 1", expertSize);
    checkArgument(k >= 1 && k <= experts, "sigma-MoE: k (%s) must be in [1, experts = %s]", k, experts);
    checkArgument(expertDropout >= 0 && expertDropout < 1, "sigma-MoE: expertDropout (%s) must be in [0, 1)", expertDropout);
    checkArgument(entropyWeight >= 0, "sigma-MoE: entropyWeight (%s) must be >= 0", entropyWeight);
    checkNotNull(kRule, "sigma-MoE: kRule is missing (e.g. {\"type\": \"fixed\"})");
    kRule.check("sigma-MoE", k);
  }

  /** The paper's layer: fixed k, no dropout on the expert hidden. */
  public SigmaMoeConfig(int experts, int expertSize, int k, double expertDropout, double entropyWeight) {
    this(experts, expertSize, k, expertDropout, entropyWeight, false, KRule.fixed());
  }
}
