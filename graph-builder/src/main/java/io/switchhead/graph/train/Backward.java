package io.switchhead.graph.train;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * What one forward and backward pass hands to the update, whether built in the plain graph or
 * returned by an XLA-compiled function.
 *
 * @param loss the minimised loss (LM plus auxiliary)
 * @param lmLoss the mean token cross-entropy (nats)
 * @param gradients one per parameter of the store, in its order; for a table read by rows, the
 *     gradient of the rows read [M, width] (see {@code sparseRows})
 * @param usageEntropy per selection, the entropy of mean expert usage
 * @param droppedShare per selection with a capacity ({@link TrainingGraph#droppedNames}), the share of its choices dropped
 * @param nextMemories XL: the next chunk's memory per layer; empty otherwise
 * @param bufferTargets one per {@link io.switchhead.graph.params.ParamStore#bufferUpdates} of the
 *     store, in its order: what each tracked buffer (BatchNorm statistics) moves toward
 * @param sparseRows by parameter index, the rows [M] a table's gradient entry is of (repeats
 *     allowed); the tables of {@link io.switchhead.graph.params.ParamStore#rowReads}
 * @param meanK per dynamic-k selection ({@link TrainingGraph#meanKSites}), the mean K its tokens used
 */
record Backward(Operand<TFloat32> loss, Operand<TFloat32> lmLoss, ImmutableList<Operand<TFloat32>> gradients,
    ImmutableList<Operand<TFloat32>> usageEntropy, ImmutableList<Operand<TFloat32>> droppedShare,
    ImmutableList<Operand<TFloat32>> nextMemories, ImmutableList<Operand<TFloat32>> bufferTargets,
    ImmutableMap<Integer, Operand<TInt32>> sparseRows, ImmutableList<Operand<TFloat32>> meanK) {

  /** A pass whose model tracks no buffers, reads no table by rows and has no dynamic-k selection. */
  Backward(Operand<TFloat32> loss, Operand<TFloat32> lmLoss, ImmutableList<Operand<TFloat32>> gradients,
      ImmutableList<Operand<TFloat32>> usageEntropy, ImmutableList<Operand<TFloat32>> droppedShare,
      ImmutableList<Operand<TFloat32>> nextMemories) {
    this(loss, lmLoss, gradients, usageEntropy, droppedShare, nextMemories, ImmutableList.of(), ImmutableMap.of(), ImmutableList.of());
  }
}
