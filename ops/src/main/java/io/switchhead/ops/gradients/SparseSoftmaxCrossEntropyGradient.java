package io.switchhead.ops.gradients;

import java.util.Arrays;
import java.util.List;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.types.family.TNumber;

/**
 * Gradient of {@code SparseSoftmaxCrossEntropyWithLogits(features [B, C], labels [B]) -> (loss [B],
 * backprop [B, C])}: the op already computes d loss / d features (softmax - one_hot) as its second
 * output, so the features' gradient is that scaled by the loss gradient. Labels have none.
 */
final class SparseSoftmaxCrossEntropyGradient implements OpGradient {

  @Override
  public String opType() {
    return "SparseSoftmaxCrossEntropyWithLogits";
  }

  @Override
  @SuppressWarnings("unchecked")
  public List<Operand<?>> inputGradients(Ops tf, GraphOperation op, List<Output<?>> outputGradients) {
    Operand<TNumber> lossGrad = (Operand<TNumber>) outputGradients.get(0); // [B]
    Operand<TNumber> backprop = (Operand<TNumber>) (Operand<?>) op.output(1); // [B, C]
    return Arrays.asList(tf.math.mul(tf.expandDims(lossGrad, tf.constant(-1)), backprop), null);
  }
}
