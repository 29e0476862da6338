package io.switchhead.graph.train;

import com.google.common.collect.ImmutableList;
import com.google.common.hash.Hashing;
import io.switchhead.graph.params.ParamStore;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.DeviceSpec;
import org.tensorflow.Operand;
import org.tensorflow.Operation;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TType;

/**
 * The forward and backward pass of a data-parallel step: N replicas of the {@link StepFunction},
 * each on its device with its equal share of the batch's rows and the same variables' values, and
 * one all-reduce ({@link AllReduce}) of everything the update needs, so that the {@link Backward}
 * it returns is that of the global batch and {@link GuardedUpdate} clips on the global norm and
 * applies AdamW once.
 *
 * <p>What is exact: each replica's LM loss is its per-token mean over an equal share of the tokens,
 * so the replicas' mean is the global per-token mean and the mean of their gradients is the global
 * gradient, up to float32 rounding. The dropped shares and mean K are exact the same way. What is
 * not: a statistic of the whole batch inside the forward pass is taken per replica, over its rows.
 * The sigma-MoE entropy regulariser and the MH-MoE balance loss are functions of the batch's mean
 * expert usage, so the replicas' mean of them (and of the usage entropies logged) is not the global
 * batch's value, and PEER's BatchNorm normalises each replica's queries by that replica's statistics
 * (its moving statistics move toward the replicas' mean of them).
 *
 * <p>The reduction is one fused buffer per replica (every gradient flattened and concatenated): one
 * collective per step. A table read by rows (PEER) has a different number of rows read per replica,
 * so its gradient enters as the dense [rows, width] scatter plus a [rows] count of reads, and the
 * update sees the rows any replica read. XL memories are not reduced: each replica reads and writes
 * the memory rows of its own batch rows, so the memory variables keep the one-device layout and a
 * checkpoint resumes on any number of devices.
 */
final class ReplicatedPass {

  private ReplicatedPass() {}

  /**
   * @param step the function of one replica's share of the batch
   * @param global the step's arguments for the whole batch [B, ...]
   * @param instanceKey the all-reduce's key, distinct per step kind of the graph
   */
  static Backward build(Ops tf, ConcreteFunction step, StepKind kind, Replicas replicas, ParamStore store,
      StepFunction.Arguments global, StepFunction.Outputs outputs, int instanceKey) {
    int batch = (int) global.inputs().shape().get(0);
    int share = replicas.share(batch);
    Ops root = tf.withSubScope("replicas_" + kind.name().toLowerCase(Locale.ROOT));
    FusedBuffer layout = FusedBuffer.of(store);
    List<Ops> devices = new ArrayList<>();
    List<Backward> passes = new ArrayList<>();
    List<Operand<TFloat32>> flats = new ArrayList<>();
    for (int r = 0; r < replicas.count(); r++) {
      Ops d = root.withSubScope("replica_" + r).withDevice(replicas.device(r));
      List<Operand<TFloat32>> memories = new ArrayList<>();
      for (Operand<TFloat32> m : global.memories()) {
        memories.add(rows(d, m, r * share, share));
      }
      StepFunction.Arguments args = new StepFunction.Arguments(rows(d, global.inputs(), r * share, share),
          rows(d, global.targets(), r * share, share), replicaSeed(d, global.seed(), r), global.params(), memories);
      Backward pass = StepFunction.call(d, step, kind, args, outputs);
      devices.add(d);
      passes.add(pass);
      flats.add(layout.flatten(d, pass));
    }
    ImmutableList<Operand<TFloat32>> reduced = AllReduce.mean(devices, flats, instanceKey, replicas.type() == DeviceSpec.DeviceType.GPU);
    // Only replica 0's result is read; the others' reductions must run too, or replica 0's waits for them forever.
    List<Operation> all = new ArrayList<>();
    reduced.forEach(o -> all.add(o.op()));
    Ops first = devices.get(0).withControlDependencyOps(all);
    Backward combined = layout.unflatten(first, first.identity(reduced.get(0)), outputs);
    return withMemories(combined, nextMemories(root, passes));
  }

  /** Rows [from, from + count) of x [B, ...]. */
  private static <T extends TType> Operand<T> rows(Ops tf, Operand<T> x, int from, int count) {
    Shape shape = x.shape();
    long[] begin = new long[shape.numDimensions()];
    long[] size = new long[shape.numDimensions()];
    begin[0] = from;
    size[0] = count;
    for (int i = 1; i < size.length; i++) {
      size[i] = -1;
    }
    return tf.slice(x, tf.constant(begin), tf.constant(size));
  }

  /**
   * Replica 0 keeps the step's seed; each other replica's random sites (dropout, expert dropout) get
   * an offset of it, so replicas draw independent masks for their rows.
   */
  private static Operand<TInt64> replicaSeed(Ops tf, Operand<TInt64> seed, int replica) {
    if (replica == 0) {
      return seed;
    }
    long offset = Hashing.murmur3_128().hashString("replica/" + replica, StandardCharsets.UTF_8).asLong();
    return tf.math.add(seed, tf.constant(new long[] {0, offset}));
  }

  /** Each layer's next memory: the replicas' rows, in batch order. */
  private static ImmutableList<Operand<TFloat32>> nextMemories(Ops tf, List<Backward> passes) {
    ImmutableList.Builder<Operand<TFloat32>> next = ImmutableList.builder();
    int layers = passes.get(0).nextMemories().size();
    for (int l = 0; l < layers; l++) {
      List<Operand<TFloat32>> parts = new ArrayList<>();
      for (Backward pass : passes) {
        parts.add(pass.nextMemories().get(l));
      }
      next.add(tf.concat(parts, tf.constant(0)));
    }
    return next.build();
  }

  private static Backward withMemories(Backward b, ImmutableList<Operand<TFloat32>> memories) {
    return new Backward(b.loss(), b.lmLoss(), b.gradients(), b.usageEntropy(), b.droppedShare(), memories, b.bufferTargets(),
        b.sparseRows(), b.meanK());
  }
}
