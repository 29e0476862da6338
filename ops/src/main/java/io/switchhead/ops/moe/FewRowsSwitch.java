package io.switchhead.ops.moe;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.SwitchCond;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * One of two conditional matmuls, chosen when the graph runs by how many (row, slot) pairs there
 * are: {@code few} while the weights it would gather, N * k * dIn * dOut float32 values, stay within
 * {@code maxGatheredBytes}, {@code many} past it. The choice is TensorFlow's own
 * conditional (Switch and Merge): only the chosen side's ops run. Made for decoding, whose calls
 * range from one token (where the gathered matmul is a few ops) to a long prompt of a large batch
 * (where it would gather gigabytes of weights); inference only, as TensorFlow Java has no
 * gradients for Switch and Merge.
 *
 * @param maxGatheredBytes the most weight bytes {@code few} may gather in one call
 */
public record FewRowsSwitch(ConditionalMatmul few, ConditionalMatmul many, long maxGatheredBytes) implements ConditionalMatmul {

  /** The gathered matmul within {@link MoeTuning#GATHERED_WEIGHTS_MAX_BYTES}, the segmented one past it. */
  public static FewRowsSwitch forDecoding() {
    return new FewRowsSwitch(new GatheredConditionalMatmul(), new SegmentedConditionalMatmul(), MoeTuning.GATHERED_WEIGHTS_MAX_BYTES);
  }

  /** The most N*k pairs {@code few} takes with weights [M, dIn, dOut]; at least one. */
  int maxPairs(Operand<?> w) {
    long perPair = 4L * w.shape().get(1) * w.shape().get(2);
    return (int) Math.max(1, Math.min(Integer.MAX_VALUE, maxGatheredBytes / perPair));
  }

  @Override
  public <T extends TFloating> Operand<T> slotOutputs(Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates) {
    return choose(tf, x, w, ids, gates, false);
  }

  @Override
  public <T extends TFloating> Operand<T> apply(Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates) {
    return choose(tf, x, w, ids, gates, true);
  }

  /** Every input switched on the pair count, each side built on its own outputs, merged: the dead side never runs. */
  private <T extends TFloating> Operand<T> choose(Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates, boolean summed) {
    Ops s = tf.withSubScope("fewRowsSwitch");
    Operand<TBool> isFew = s.math.lessEqual(s.size(ids), s.constant(maxPairs(w)));
    SwitchCond<T> xs = s.switchCond(x, isFew);
    SwitchCond<T> ws = s.switchCond(w, isFew);
    SwitchCond<TInt32> idss = s.switchCond(ids, isFew);
    SwitchCond<T> gs = s.switchCond(gates, isFew);
    Operand<T> fewOut = summed
        ? few.apply(tf, xs.outputTrue(), ws.outputTrue(), idss.outputTrue(), gs.outputTrue())
        : few.slotOutputs(tf, xs.outputTrue(), ws.outputTrue(), idss.outputTrue(), gs.outputTrue());
    Operand<T> manyOut = summed
        ? many.apply(tf, xs.outputFalse(), ws.outputFalse(), idss.outputFalse(), gs.outputFalse())
        : many.slotOutputs(tf, xs.outputFalse(), ws.outputFalse(), idss.outputFalse(), gs.outputFalse());
    return s.merge(List.of(fewOut, manyOut)).output();
  }
}
