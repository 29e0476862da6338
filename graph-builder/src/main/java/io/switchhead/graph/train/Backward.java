package io.switchhead.graph.train;

import com.google.common.collect.ImmutableList;
import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;

/**
 * What one forward and backward pass hands to the update, whether built in the plain graph or
 * returned by an XLA-compiled function.
 *
 * @param loss the minimised loss (LM plus auxiliary)
 * @param lmLoss the mean token cross-entropy (nats)
 * @param gradients one per parameter of the store, in its order
 * @param usageEntropy per selection, the entropy of mean expert usage
 * @param nextMemories XL: the next chunk's memory per layer; empty otherwise
 * @param meanK per dynamic-k selection ({@link TrainingGraph#meanKSites}), the mean K its tokens used
 */
record Backward(Operand<TFloat32> loss, Operand<TFloat32> lmLoss, ImmutableList<Operand<TFloat32>> gradients,
    ImmutableList<Operand<TFloat32>> usageEntropy, ImmutableList<Operand<TFloat32>> nextMemories, ImmutableList<Operand<TFloat32>> meanK) {

  /** A pass without dynamic-k selections. */
  Backward(Operand<TFloat32> loss, Operand<TFloat32> lmLoss, ImmutableList<Operand<TFloat32>> gradients,
      ImmutableList<Operand<TFloat32>> usageEntropy, ImmutableList<Operand<TFloat32>> nextMemories) {
    this(loss, lmLoss, gradients, usageEntropy, nextMemories, ImmutableList.of());
  }
}
