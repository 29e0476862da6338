package io.switchhead.ops.gradients;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;

/**
 * For ops whose outputs do not depend on their inputs' values (Python marks them NotDifferentiable,
 * TensorFlow's C++ registry does not): every input's gradient is zero. Without it, a gradient that
 * reaches such an op, e.g. OnesLike of a gate, fails the whole gradient build.
 */
final class ZeroGradient implements OpGradient {

  private final String opType;

  ZeroGradient(String opType) {
    this.opType = opType;
  }

  @Override
  public String opType() {
    return opType;
  }

  @Override
  public List<Operand<?>> inputGradients(Ops tf, GraphOperation op, List<Output<?>> outputGradients) {
    List<Operand<?>> none = new ArrayList<>();
    for (int i = 0; i < op.numInputs(); i++) {
      none.add(null); // CustomGradients fills zeros of each input's type
    }
    return none;
  }
}
