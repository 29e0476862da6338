package io.switchhead.ops.moe;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.AssertThat;
import org.tensorflow.types.TInt32;

/** Run-time validation of expert ids, which are data and cannot be checked when the graph is built. */
final class ExpertIds {

  private ExpertIds() {}

  /**
   * {@code ids}, with a control dependency on an assertion that every id is in [0, experts). An id
   * out of range would otherwise be dropped silently by the unsorted segment sums that count each
   * expert's rows (segmented layout) and sum its weight gradient (sorted layout).
   * Under XLA the assertion compiles to nothing (XLA has no run-time asserts).
   */
  static Operand<TInt32> checked(Ops tf, Operand<TInt32> ids, int experts) {
    Ops ck = tf.withSubScope("checkIds");
    Operand<TInt32> all = ck.constant(new int[] {0, 1});
    Operand<TInt32> min = ck.reduceMin(ids, all);
    Operand<TInt32> max = ck.reduceMax(ids, all);
    AssertThat inRange =
        ck.assertThat(
            ck.math.logicalAnd(
                ck.math.greaterEqual(min, ck.constant(0)), ck.math.less(max, ck.constant(experts))),
            List.of(ck.constant("expert ids must be in [0, " + experts + "), got min and max"), min, max));
    return ck.withControlDependencies(inRange).identity(ids);
  }
}
