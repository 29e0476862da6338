package io.switchhead.ops.moe;

import static com.google.common.base.Preconditions.checkArgument;

/**
 * How experts are chosen: per head, k of E experts by sigmoid score (SWITCHHEAD.md section 1).
 *
 * @param heads H, independent selections per token
 * @param experts E, experts per head; ids run over H*E
 * @param k experts chosen per head and token, 1 <= k <= E
 * @param expertDropout p: in training each (token, head, expert) score is masked to -inf with this
 *     probability before top-k, which changes only which experts are chosen (the paper's 0.1 in big
 *     runs, default 0); must be < 1, or nothing could be chosen
 */
public record SelectionConfig(int heads, int experts, int k, double expertDropout) {

  public SelectionConfig {
    checkArgument(heads >= 1, "heads must be >= 1, got %s", heads);
    checkArgument(experts >= 1, "experts must be >= 1, got %s", experts);
    checkArgument(k >= 1 && k <= experts, "k (%s) must be in [1, experts=%s]", k, experts);
    checkArgument(
        expertDropout >= 0 && expertDropout < 1, "expertDropout must be in [0, 1), got %s", expertDropout);
  }

  /** No expert dropout. */
  public static SelectionConfig of(int heads, int experts, int k) {
    return new SelectionConfig(heads, experts, k, 0);
  }
}
