package io.switchhead.graph.config;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

/**
 * The PEER feed-forward (Mixture of A Million Experts, SEEDS-MOE.md "PEER"): h query heads, each a
 * BatchNorm-ed query split in halves that retrieve the exact top-k of N product keys, and N
 * single-neuron experts {@code act(u_i . x) v_i} from two [N, D] tables, weighted by a softmax over
 * the k chosen scores per head.
 *
 * @param experts N, a perfect square (the product keys are pairs of sqrt(N) sub-keys); at most 2^30,
 *     so ids fit in int32 (the paper's N = 1024^2 = 2^20 does)
 * @param heads h query heads; their outputs are summed (8 in the paper)
 * @param k experts retrieved per head, at most sqrt(N) (16 in the paper)
 * @param keyDim d_key, width of a query and of a product key; even, as it splits in halves
 * @param activation of the expert neuron; the paper does not say which
 * @param batchNormMomentum the moving statistics' update: {@code moving = momentum * moving + (1 -
 *     momentum) * batch} (Keras' convention; 0.99 there), in [0, 1)
 * @param batchNormEpsilon added to the variance before its square root, > 0 (1e-3 in Keras)
 */
public record PeerConfig(int experts, int heads, int k, int keyDim, Activation activation, double batchNormMomentum,
    double batchNormEpsilon) implements FeedForwardConfig {

  /** The expert neuron's activation. */
  public enum Activation {
    RELU,
    GELU
  }

  /** Ids are int32: N past 2^30 would overflow sqrt(N) * sqrt(N) arithmetic near the int range. */
  public static final int MAX_EXPERTS = 1 << 30;

  public PeerConfig {
    checkArgument(experts >= 1 && experts <= MAX_EXPERTS, "PEER: experts (%s) must be in [1, 2^30]", experts);
    int side = subKeys(experts);
    checkArgument((long) side * side == experts, "PEER: experts (%s) must be a perfect square (product keys)", experts);
    checkArgument(heads >= 1, "PEER: heads (%s) must be >= 1", heads);
    // Usage logs offset each head's ids by head * N (ExpertUsage's convention), in int32.
    checkArgument((long) heads * experts <= Integer.MAX_VALUE, "PEER: heads (%s) * experts (%s) must fit int32", heads, experts);
    checkArgument(k >= 1 && k <= side, "PEER: k (%s) must be in [1, sqrt(experts) = %s]", k, side);
    checkArgument(keyDim >= 2 && keyDim % 2 == 0, "PEER: keyDim (%s) must be even and >= 2 (queries split in halves)", keyDim);
    checkNotNull(activation, "PEER: activation is missing (RELU or GELU)");
    checkArgument(batchNormMomentum >= 0 && batchNormMomentum < 1, "PEER: batchNormMomentum (%s) must be in [0, 1)",
        batchNormMomentum);
    checkArgument(batchNormEpsilon > 0, "PEER: batchNormEpsilon (%s) must be > 0", batchNormEpsilon);
  }

  /** sqrt(N), the number of sub-keys per half. */
  public int subKeys() {
    return subKeys(experts);
  }

  private static int subKeys(int n) {
    return (int) Math.round(Math.sqrt(n));
  }
}
