package io.switchhead.ops.gradients;

import java.util.Arrays;
import java.util.List;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.types.family.TNumber;
import org.tensorflow.types.family.TType;

/**
 * Gradients of {@code TensorScatterAdd/Sub/Update(tensor, indices, updates)}. The updates' gradient
 * gathers the output gradient at the scattered positions (never densifies); the tensor's gradient
 * passes through, except for Update, where overwritten positions receive none.
 */
final class TensorScatterGradients implements OpGradient {

  private enum Kind {
    ADD("TensorScatterAdd"),
    SUB("TensorScatterSub"),
    UPDATE("TensorScatterUpdate");

    final String opType;

    Kind(String opType) {
      this.opType = opType;
    }
  }

  private final Kind kind;

  private TensorScatterGradients(Kind kind) {
    this.kind = kind;
  }

  static TensorScatterGradients add() {
    return new TensorScatterGradients(Kind.ADD);
  }

  static TensorScatterGradients sub() {
    return new TensorScatterGradients(Kind.SUB);
  }

  static TensorScatterGradients update() {
    return new TensorScatterGradients(Kind.UPDATE);
  }

  @Override
  public String opType() {
    return kind.opType;
  }

  @Override
  @SuppressWarnings("unchecked")
  public List<Operand<?>> inputGradients(Ops tf, GraphOperation op, List<Output<?>> outputGradients) {
    Operand<TType> grad = (Operand<TType>) outputGradients.get(0);
    Operand<TNumber> indices = (Operand<TNumber>) op.input(1);
    Operand<TType> updatesGrad = tf.gatherNd(grad, indices);
    Operand<TType> tensorGrad = grad;
    switch (kind) {
      case ADD:
        break;
      case SUB:
        updatesGrad = (Operand<TType>) (Operand<?>) tf.math.neg((Operand<TNumber>) (Operand<?>) updatesGrad);
        break;
      case UPDATE:
        tensorGrad = tf.tensorScatterNdUpdate(grad, indices, tf.zerosLike(updatesGrad));
        break;
    }
    return Arrays.asList(tensorGrad, null, updatesGrad);
  }
}
