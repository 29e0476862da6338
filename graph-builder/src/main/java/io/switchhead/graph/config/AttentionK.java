package io.switchhead.graph.config;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import io.switchhead.ops.moe.DynamicK;

/**
 * Dynamic k from the block's attention, <b>our design</b> after DA-MoE (SEEDS-MOE.md; {@link
 * DynamicK}): each token's importance (attention received per query that can see it, normalised
 * by the sequence's maximum) sets how many of the router's top K_max = k experts it uses; the
 * others get gate 0.
 *
 * <p>Not causal within a chunk: a token's K depends on the attention of the queries after it, so in
 * a language model an earlier position's output depends (through K only) on later tokens of the
 * chunk. Cached decoding computes importance from the queries of each call (see {@code Block.decode}).
 *
 * @param variant CEIL: K = clip(ceil(s * k), 1, k); BUDGET: K = clip(round(kAvg * T * s / sum s), 1, k)
 * @param kAvg BUDGET: the mean K aimed at, in [1, k]; CEIL: must be 0 (unused)
 */
public record AttentionK(DynamicK.Variant variant, double kAvg) implements KRule {

  public AttentionK {
    checkNotNull(variant, "attention k rule: variant is missing (CEIL or BUDGET)");
    checkArgument(variant == DynamicK.Variant.BUDGET || kAvg == 0,
        "attention k rule: kAvg (%s) is read by the BUDGET variant only; set it to 0 for CEIL", kAvg);
  }

  /** K = clip(ceil(s * k), 1, k). */
  public static AttentionK ceil() {
    return new AttentionK(DynamicK.Variant.CEIL, 0);
  }

  /** K = clip(round(kAvg * T * s / sum s), 1, k). */
  public static AttentionK budget(double kAvg) {
    return new AttentionK(DynamicK.Variant.BUDGET, kAvg);
  }

  @Override
  public void check(String where, int kMax) {
    checkArgument(variant == DynamicK.Variant.CEIL || (kAvg >= 1 && kAvg <= kMax),
        "%s: kRule.kAvg (%s) must be in [1, k = %s]", where, kAvg, kMax);
  }
}
