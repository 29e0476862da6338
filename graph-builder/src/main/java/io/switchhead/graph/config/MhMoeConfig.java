package io.switchhead.graph.config;

import static com.google.common.base.Preconditions.checkArgument;

/**
 * The MH-MoE feed-forward (SEEDS-MOE.md, arXiv:2404.15045): a head projection splits each token into
 * h sub-tokens of width D/h, softmax top-k routing sends each sub-token to k of E SwiGLU experts
 * with a capacity, and a merge projection joins the sub-tokens again. Whether D is divisible by h is
 * checked where D is known ({@link #checkWidth}, called by {@link ModelConfig} and the layer).
 *
 * @param heads h, sub-tokens per token (4 in the released scripts)
 * @param experts E (8 or 32 in the paper)
 * @param k experts per sub-token, in [1, experts] (top-1 in the released scripts)
 * @param expertSize SwiGLU hidden width of one expert (dff)
 * @param capacityFactor f: each expert takes C = ceil(f * k * ceil(S*h / E)) sub-tokens of a training
 *     batch of S tokens, the rest are dropped (the spec's rule is f = 1); evaluation is dropless
 * @param balanceWeight weight of the load-balance loss (0.01 in the paper); 0 turns it off
 * @param hiddenDropout whether the block's dropout acts on the expert hidden fc1(x) * silu(fc3(x));
 *     off by default, as in the sigma-MoE (the paper's configuration has none there)
 */
public record MhMoeConfig(int heads, int experts, int k, int expertSize, double capacityFactor, double balanceWeight,
    boolean hiddenDropout) implements FeedForwardConfig {

  /** The spec's capacity factor (C = k * ceil(S*h / E)). */
  public static final double SPEC_CAPACITY_FACTOR = 1.0;

  /** The paper's load-balance weight. */
  public static final double PAPER_BALANCE_WEIGHT = 0.01;

  public MhMoeConfig {
    checkArgument(heads >= 1, "mh-moe: heads (%s) must be >= 1", heads);
    checkArgument(experts >= 1, "mh-moe: experts (%s) must be >= 1", experts);
    checkArgument(k >= 1 && k <= experts, "mh-moe: k (%s) must be in [1, experts = %s]", k, experts);
    checkArgument(expertSize >= 1, "mh-moe: expertSize (%s) must be >= 1", expertSize);
    checkArgument(capacityFactor > 0 && Double.isFinite(capacityFactor), "mh-moe: capacityFactor (%s) must be a finite number > 0",
        capacityFactor);
    checkArgument(balanceWeight >= 0 && Double.isFinite(balanceWeight), "mh-moe: balanceWeight (%s) must be >= 0", balanceWeight);
  }

  /** The paper's settings for the rest: capacity factor 1, balance weight 0.01, no hidden dropout. */
  public static MhMoeConfig paper(int heads, int experts, int k, int expertSize) {
    return new MhMoeConfig(heads, experts, k, expertSize, SPEC_CAPACITY_FACTOR, PAPER_BALANCE_WEIGHT, false);
  }

  /** Checks that a model of width {@code dModel} splits into h sub-tokens. */
  public void checkWidth(int dModel) {
    checkArgument(dModel % heads == 0, "mh-moe: dModel (%s) must be divisible by heads (%s)", dModel, heads);
  }

  /** D/h, the width of a sub-token and of the experts' input and output. */
  public int subTokenWidth(int dModel) {
    checkWidth(dModel);
    return dModel / heads;
  }

  /**
   * C, the sub-tokens each expert takes in a training batch of {@code tokens} tokens:
   * ceil(f * k * ceil(S*h / E)).
   */
  public int capacity(int tokens) {
    checkArgument(tokens >= 1, "mh-moe: tokens (%s) must be >= 1", tokens);
    long subTokens = (long) tokens * heads;
    long perExpert = (subTokens + experts - 1) / experts;
    long c = (long) Math.ceil(capacityFactor * k * perExpert);
    checkArgument(c * experts < Integer.MAX_VALUE, "mh-moe: capacity %s for %s experts overflows int32", c, experts);
    return (int) Math.max(1, c);
  }
}
