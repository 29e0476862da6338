package io.switchhead.graph.accounting;

import io.switchhead.graph.config.AttentionConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;

/**
 * MACs and activation memory of one attention layer on one sequence, by the paper's formulas
 * (SWITCHHEAD.md section 6). C = 2 with the XL memory (keys span the previous chunk too), else 1.
 *
 * <p>As the paper did, the SwitchHead MAC formula leaves the factor C out of the positional
 * projection term while the dense one keeps it; both are reported as the paper wrote them, and an
 * exact count from the built graph sits beside them.
 */
public final class AttentionCost {

  private AttentionCost() {}

  /** The paper's MAC formula for this attention at model width d and sequence length t. */
  public static double paperMacs(AttentionConfig a, long d, long t) {
    double h = a.heads();
    double dh = a.headDim();
    double c = a.positional() == Positional.XL ? 2 : 1;
    if (a instanceof SwitchHeadConfig s) {
      double k = s.k();
      double e = s.experts();
      return 2 * c * h * dh * t * t + (2 * k + 2) * d * h * dh * t + 2 * h * k * t * dh + 2 * e * d * t * c + 2 * h * d * t * dh;
    }
    return h * (4 * t * dh * d + 2 * c * t * t * dh + 2 * c * t * dh * d);
  }

  /** The paper's activation-memory formula, in floats. */
  public static double paperMemoryFloats(AttentionConfig a, long t) {
    double h = a.heads();
    double dh = a.headDim();
    double c = a.positional() == Positional.XL ? 2 : 1;
    if (a instanceof SwitchHeadConfig s) {
      double e = s.experts();
      return 2 * h * c * t * t + 4 * h * dh * t + 2 * e * t * c + 2 * h * t * dh;
    }
    return h * (4 * t * dh + 2 * c * t * t + 2 * c * t * dh);
  }
}
