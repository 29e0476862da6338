package io.switchhead.graph.train;

import io.switchhead.graph.model.MemoryState;
import io.switchhead.graph.params.ParamStore;
import static com.google.common.base.Preconditions.checkArgument;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Unique;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * Turns one forward and backward pass into a training step: global-norm clipping, a guard that
 * stops the step before any variable changes if the loss or the gradient norm is not finite, the
 * AdamW updates (lazy, at the rows read, for tables read by rows), (XL) the memory advanced to this chunk, and tracked buffers (BatchNorm moving
 * statistics) moved toward the pass's targets.
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
    // A table read by rows: its gradient summed per distinct row, the dense gradient's nonzero rows.
    List<Operand<TFloat32>> gradients = new ArrayList<>();
    List<Operand<TInt32>> rows = new ArrayList<>();
    for (int i = 0; i < pass.gradients().size(); i++) {
      Operand<TInt32> ids = pass.sparseRows().get(i);
      if (ids == null) {
        gradients.add(pass.gradients().get(i));
        rows.add(null);
      } else {
        Unique<TInt32, TInt32> distinct = tf.unique(ids, tf.constant(new int[] {0}));
        gradients.add(tf.math.unsortedSegmentSum(pass.gradients().get(i), distinct.idx(), tf.size(distinct.y()))); // [U, width]
        rows.add(distinct.y()); // [U]
      }
    }
    // L2Loss is sum(g^2) / 2 in one pass over g: Square then Sum would write and read a copy of every
    // gradient, 189 MB each way at 47M.
    List<Operand<TFloat32>> halfSquares = new ArrayList<>();
    gradients.forEach(g -> halfSquares.add(tf.nn.l2Loss(g)));
    Operand<TFloat32> norm = tf.math.sqrt(tf.math.mul(tf.constant(2f), tf.math.addN(halfSquares)));
    Operand<TFloat32> clipValue = tf.constant((float) clip);
    Operand<TFloat32> scale = tf.math.div(clipValue, tf.math.maximum(norm, clipValue));
    List<Operand<TFloat32>> clipped = new ArrayList<>();
    gradients.forEach(g -> clipped.add(tf.math.mul(g, scale)));
    // The guard's failure is recognised by the values (TrainingGraph.step re-reads them), not by its message.
    Op finite = tf.assertThat(tf.math.logicalAnd(tf.math.isFinite(pass.loss()), tf.math.isFinite(norm)),
        List.of(tf.constant("non-finite loss or gradient norm"), pass.loss(), norm));
    List<Op> all = new ArrayList<>(optimizer.updates(tf, store, slots, clipped, rows, fed, List.of(finite)));
    // Memories advance with the step, after everything that read them (the guard waits for the gradients).
    all.addAll(memory.assign(tf.withControlDependencies(List.of(finite)), pass.nextMemories()));
    all.addAll(bufferUpdates(tf.withControlDependencies(List.of(finite)), pass.bufferTargets()));
    Op train = tf.withControlDependencies(all).withName("train").noOp();
    Operand<TFloat32> usage = pass.usageEntropy().isEmpty()
        ? tf.constant(new float[0])
        : tf.stack(pass.usageEntropy());
    Operand<TFloat32> dropped = pass.droppedShare().isEmpty() ? tf.constant(new float[0]) : tf.stack(pass.droppedShare());
    Operand<TFloat32> meanK = pass.meanK().isEmpty() ? tf.constant(new float[0]) : tf.stack(pass.meanK());
    return new TrainStep(pass.loss(), pass.lmLoss(), norm, usage, dropped, meanK, train);
  }

  /** {@code buffer -= rate * (buffer - target)} for each tracked buffer (moving averages), guarded like the parameters. */
  @SuppressWarnings("unchecked")
  private List<Op> bufferUpdates(Ops guarded, List<Operand<TFloat32>> targets) {
    List<ParamStore.BufferUpdate> updates = store.bufferUpdates();
    checkArgument(updates.size() == targets.size(), "%s tracked buffers but %s targets", updates.size(), targets.size());
    Map<String, Variable<? extends TFloating>> variables = new HashMap<>();
    store.buffers().forEach(b -> variables.put(b.spec().path(), b.variable()));
    List<Op> ops = new ArrayList<>();
    for (int i = 0; i < updates.size(); i++) {
      ParamStore.BufferUpdate u = updates.get(i);
      Variable<TFloat32> buffer = (Variable<TFloat32>) variables.get(u.spec().path());
      checkArgument(buffer != null, "buffer '%s' is not a variable of the store", u.spec().path());
      Operand<TFloat32> step = guarded.math.mul(guarded.constant((float) u.rate()), guarded.math.sub(guarded.identity(buffer), targets.get(i)));
      ops.add(guarded.assignSub(buffer, step));
    }
    return ops;
  }
}
