package io.switchhead.ops.moe;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TType;

/**
 * The small index reshapes and constants that the layouts' routings and loops share. It sits below
 * them all and depends on none of them, so that no two of them need each other.
 */
final class Indices {

  private Indices() {}

  /** A vector [Q] as a column [Q, 1], to compare against a {@link #row}. */
  static Operand<TInt32> column(Ops tf, Operand<TInt32> v) {
    return tf.expandDims(v, tf.constant(1)); // [Q, 1]
  }

  /** A vector [I] as a row [1, I], to compare against a {@link #column}. */
  static Operand<TInt32> row(Ops tf, Operand<TInt32> v) {
    return tf.expandDims(v, tf.constant(0)); // [1, I]
  }

  /** [N*k] the row n of pair t = n*k + j, as a constant (an int division per buffer row is slow). */
  static Operand<TInt32> rowOfPair(Ops tf, MatmulShapes shapes) {
    int[] rows = new int[shapes.pairs()];
    for (int t = 0; t < rows.length; t++) {
      rows[t] = t / shapes.k();
    }
    return tf.constant(rows);
  }

  /** A per-row (or per-block) index vector of a block layout as [groups, rows of one group]. */
  static <U extends TType> Operand<U> byGroup(Ops tf, Operand<U> v, BlockLayout layout) {
    return tf.reshape(v, tf.constant(new int[] {layout.groups(), -1}));
  }

  /** Row i of a [groups, n] index matrix: loop iteration i's share. */
  static Operand<TInt32> groupRow(Ops tf, Operand<TInt32> matrix, Operand<TInt32> i) {
    return tf.gather(matrix, i, tf.constant(0));
  }
}
