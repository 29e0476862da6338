package io.switchhead.ops.gradients;

import java.util.Arrays;
import java.util.List;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.ndarray.index.Indices;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TType;

/**
 * Gradient of {@code TopKV2(input, k) -> (values, indices)}: the gradient of each value flows back to
 * the input position it was taken from; every other position gets zero. Indices and k have none.
 */
final class TopKGradient implements OpGradient {

  @Override
  public String opType() {
    return "TopKV2";
  }

  @Override
  @SuppressWarnings("unchecked")
  public List<Operand<?>> inputGradients(Ops tf, GraphOperation op, List<Output<?>> outputGradients) {
    Operand<TType> input = (Operand<TType>) op.input(0);
    Operand<TInt32> indices = (Operand<TInt32>) (Operand<?>) op.output(1);
    Operand<TType> valueGrad = (Operand<TType>) outputGradients.get(0);

    // Flatten to rows: input [R, n], indices [R, k]; position of (r, j) in the flat input is r*n + idx.
    Operand<TInt32> inputShape = tf.shape(input);
    Operand<TInt32> n = tf.stridedSlice(inputShape, Indices.at(-1));
    Operand<TInt32> k = tf.stridedSlice(tf.shape(indices), Indices.at(-1));
    Operand<TInt32> total = tf.reduceProd(inputShape, tf.constant(0));
    Operand<TInt32> rows = tf.math.floorDiv(total, n);
    Operand<TInt32> rowOffsets = tf.math.mul(tf.range(tf.constant(0), rows, tf.constant(1)), n); // [R]
    Operand<TInt32> flatIndices2d =
        tf.math.add(
            tf.reshape(indices, tf.stack(Arrays.asList(rows, k))),
            tf.expandDims(rowOffsets, tf.constant(1))); // [R, k]
    Operand<TInt32> flatIndices = tf.reshape(flatIndices2d, tf.constant(new int[] {-1, 1}));
    Operand<TType> flatGrad = tf.reshape(valueGrad, tf.constant(new int[] {-1}));
    Operand<TType> scattered = tf.scatterNd(flatIndices, flatGrad, tf.expandDims(total, tf.constant(0)));
    return Arrays.asList(tf.reshape(scattered, inputShape), null);
  }
}
