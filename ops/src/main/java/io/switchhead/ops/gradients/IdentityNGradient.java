package io.switchhead.ops.gradients;

import java.util.List;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;

/** IdentityN has no C++ gradient; it is the carrier of {@link GradientOverride}'s per-node gradients. */
final class IdentityNGradient implements OpGradient {

  @Override
  public String opType() {
    return "IdentityN";
  }

  @Override
  public List<Operand<?>> inputGradients(Ops tf, GraphOperation op, List<Output<?>> outputGradients) {
    return GradientOverride.identityNGradient(tf, op, outputGradients);
  }
}
