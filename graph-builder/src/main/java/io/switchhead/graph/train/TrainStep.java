package io.switchhead.graph.train;

import io.switchhead.ops.Tensors;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.types.TFloat32;

/**
 * The fetches and the target of one built training step.
 *
 * @param loss the minimised loss, scalar
 * @param lmLoss the mean token cross-entropy (nats), scalar
 * @param gradientNorm the global norm of the gradients before clipping, scalar
 * @param usageEntropy [U] the expert-usage entropy of each selection ({@link TrainingGraph#usageNames})
 * @param droppedShare [C] the share of choices dropped by each selection with a capacity ({@link TrainingGraph#droppedNames})
 * @param meanK [K] the mean K of each dynamic-k selection ({@link TrainingGraph#meanKSites})
 * @param train clips, checks finiteness, applies AdamW and advances the XL memory
 */
record TrainStep(Operand<TFloat32> loss, Operand<TFloat32> lmLoss, Operand<TFloat32> gradientNorm,
    Operand<TFloat32> usageEntropy, Operand<TFloat32> droppedShare, Operand<TFloat32> meanK, Op train) {

  /** Adds this step's fetches to {@code runner}, in the order {@link #read} reads them. */
  Session.Runner fetch(Session.Runner runner) {
    return runner.fetch(loss).fetch(lmLoss).fetch(gradientNorm).fetch(usageEntropy).fetch(droppedShare).fetch(meanK);
  }

  /** The metrics of a run that fetched with {@link #fetch} (and nothing before it). */
  StepMetrics read(Result result) {
    return new StepMetrics(scalar(result, 0), scalar(result, 1), scalar(result, 2), doubles(result, 3), doubles(result, 4),
        doubles(result, 5));
  }

  private static double[] doubles(Result result, int index) {
    float[] floats = Tensors.toFloats(result.get(index));
    double[] values = new double[floats.length];
    for (int i = 0; i < floats.length; i++) {
      values[i] = floats[i];
    }
    return values;
  }

  private static double scalar(Result result, int index) {
    return ((TFloat32) result.get(index)).getFloat();
  }
}
