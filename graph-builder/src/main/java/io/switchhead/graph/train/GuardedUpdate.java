package io.switchhead.graph.train;

import io.switchhead.graph.model.MemoryState;
import io.switchhead.graph.params.ParamStore;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * Turns one forward and backward pass into a training step: global-norm clipping, a guard that
 * stops the step before any variable changes if the loss or the gradient norm is not finite, the
 * AdamW updates, and (XL) the memory advanced to this chunk.
 *
 * @param store the parameters the gradients belong to
 * @param slots AdamW's moments, shared by every step kind of the graph
 * @param optimizer AdamW's settings
 * @param fed the learning rate and bias corrections fed each step
 * @param clip the global-norm threshold
 * @param memory the XL training memory the step advances (empty without memory)
 */
record GuardedUpdate(ParamStore store, AdamW.Slots slots, AdamW optimizer, AdamW.StepInputs fed, double clip, MemoryState memory) {

  /** The step of {@code pass}, its ops in the name scope {@code update_<name>}. */
  TrainStep build(Ops root, String name, Backward pass) {
    Ops tf = root.withSubScope("update_" + name);
    List<Operand<TFloat32>> squares = new ArrayList<>();
    for (Operand<TFloat32> g : pass.gradients()) {
      squares.add(tf.reduceSum(tf.math.square(g), tf.range(tf.constant(0), tf.rank(g), tf.constant(1))));
    }
    Operand<TFloat32> norm = tf.math.sqrt(tf.math.addN(squares));
    Operand<TFloat32> clipValue = tf.constant((float) clip);
    Operand<TFloat32> scale = tf.math.div(clipValue, tf.math.maximum(norm, clipValue));
    List<Operand<TFloat32>> clipped = new ArrayList<>();
    pass.gradients().forEach(g -> clipped.add(tf.math.mul(g, scale)));
    // The guard's failure is recognised by the values (TrainingGraph.step re-reads them), not by its message.
    Op finite = tf.assertThat(tf.math.logicalAnd(tf.math.isFinite(pass.loss()), tf.math.isFinite(norm)),
        List.of(tf.constant("non-finite loss or gradient norm"), pass.loss(), norm));
    List<Op> all = new ArrayList<>(optimizer.updates(tf, store, slots, clipped, fed, List.of(finite)));
    // Memories advance with the step, after everything that read them (the guard waits for the gradients).
    all.addAll(memory.assign(tf.withControlDependencies(List.of(finite)), pass.nextMemories()));
    Op train = tf.withControlDependencies(all).withName("train").noOp();
    Operand<TFloat32> usage = pass.usageEntropy().isEmpty()
        ? tf.constant(new float[0])
        : tf.stack(pass.usageEntropy());
    Operand<TFloat32> meanK = pass.meanK().isEmpty() ? tf.constant(new float[0]) : tf.stack(pass.meanK());
    return new TrainStep(pass.loss(), pass.lmLoss(), norm, usage, meanK, train);
  }
}
