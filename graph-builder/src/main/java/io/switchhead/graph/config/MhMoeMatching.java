package io.switchhead.graph.config;

import static com.google.common.base.Preconditions.checkArgument;

/**
 * The MH-MoE v2 paper's rule for matching a top-1 SwiGLU SMoE in FLOPs and parameters
 * (SEEDS-MOE.md): per token the SMoE costs 3*D*dff_moe multiply-adds, MH-MoE 2*D^2 for its head and
 * merge projections plus h sub-tokens times k experts of 3*(D/h)*dff_mh, so equal FLOPs need
 * {@code k_mh * dff_mh = dff_moe - 2D/3}. The paper takes k = h (d 768, 8 experts of 2048: h 2 ->
 * dff 768, top-2, 40 experts; h 3 -> dff 512, top-3, 96 experts).
 *
 * <p>The expert count is our reading of those two examples, not a rule the paper states: the
 * largest multiple of 8 whose expert parameters E*(D/h)*dff_mh do not exceed the baseline's
 * E_moe*D*dff_moe (40 of 42.7 for h 2, exactly 96 for h 3).
 */
public final class MhMoeMatching {

  /** Expert counts are rounded down to a multiple of this (see the class comment). */
  public static final int EXPERT_MULTIPLE = 8;

  private MhMoeMatching() {}

  /**
   * The MH-MoE with h = k = {@code heads} matching a top-1 SMoE of {@code baselineExperts} SwiGLU
   * experts of hidden size {@code baselineExpertSize} at width {@code dModel}, with the paper's
   * capacity factor, balance weight and no hidden dropout.
   *
   * @throws IllegalArgumentException if D is not divisible by h or by 3, if dff_moe - 2D/3 is not
   *     divisible by h, or if the matched expert count would be below {@link #EXPERT_MULTIPLE}
   */
  public static MhMoeConfig match(int dModel, int baselineExperts, int baselineExpertSize, int heads) {
    checkArgument(dModel >= 1 && dModel % 3 == 0, "mh-moe matching: dModel (%s) must be a positive multiple of 3 (2D/3 FLOPs)", dModel);
    checkArgument(heads >= 1 && dModel % heads == 0, "mh-moe matching: heads (%s) must divide dModel (%s)", heads, dModel);
    checkArgument(baselineExperts >= 1, "mh-moe matching: baselineExperts (%s) must be >= 1", baselineExperts);
    long budget = (long) baselineExpertSize - 2L * dModel / 3; // k * dff_mh
    checkArgument(budget >= heads && budget % heads == 0,
        "mh-moe matching: baselineExpertSize - 2*dModel/3 (%s) must be a positive multiple of heads (%s)", budget, heads);
    int expertSize = (int) (budget / heads);
    long baselineParams = (long) baselineExperts * dModel * baselineExpertSize;
    long perExpert = (long) (dModel / heads) * expertSize;
    long experts = baselineParams / perExpert / EXPERT_MULTIPLE * EXPERT_MULTIPLE;
    checkArgument(experts >= EXPERT_MULTIPLE, "mh-moe matching: the baseline's parameters give fewer than %s experts (%s)",
        EXPERT_MULTIPLE, baselineParams / perExpert);
    return MhMoeConfig.paper(heads, Math.toIntExact(experts), heads, expertSize);
  }
}
