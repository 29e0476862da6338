package io.switchhead.graph.train;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * The mean over the replicas of one float tensor per replica, every replica getting the result, by
 * TensorFlow's {@code CollectiveReduceV2} (merge {@code Add}, final {@code Div}: the sum divided by
 * the group size).
 *
 * <p>Why this op: it is TensorFlow's device-independent all-reduce, the one {@code tf.distribute}'s
 * {@code CollectiveAllReduce} (of {@code MultiWorkerMirroredStrategy}) emits. It runs on CPU devices (TensorFlow's ring reducer over the
 * devices' memory) and on GPUs, where the {@code communication_hint} "nccl" makes it NCCL's
 * all-reduce ("auto" would keep the ring, as TensorFlow uses NCCL only when asked, by the hint or
 * the session's {@code collective_nccl}), so one graph serves both; {@code NcclAllReduce} has GPU
 * kernels only and would need a second CPU path.
 * TensorFlow Java 1.1.0 generates no wrapper for the V2 op (its {@code collective.CollectiveReduce}
 * is the V3 op, which needs a communicator), so it is built with {@code opBuilder}.
 *
 * <p>The keys: the replicas' ops of one reduction name the same {@code group_key} (which devices
 * reduce together: here all the replicas) and the same {@code instance_key} (which reduction of that
 * group this is); two reductions of one group that may run in one step need distinct instance keys.
 * TensorFlow matches the ops of each step by step id, so the same keys serve every step.
 */
final class AllReduce {

  /** The group of all the replicas. */
  static final int GROUP_KEY = 1;

  private AllReduce() {}

  /**
   * One CollectiveReduceV2 per replica, on the replica's device (the device of its {@code Ops}).
   *
   * @param replicas one {@code Ops} per replica, with its device set
   * @param values one tensor per replica, all of one shape
   * @param instanceKey this reduction's key among the group's
   * @param gpus whether the replicas are GPUs (NCCL) or CPU devices (the ring)
   * @return per replica, the mean over the replicas
   */
  static ImmutableList<Operand<TFloat32>> mean(List<Ops> replicas, List<Operand<TFloat32>> values, int instanceKey, boolean gpus) {
    checkArgument(replicas.size() == values.size(), "%s replicas but %s values", replicas.size(), values.size());
    ImmutableList.Builder<Operand<TFloat32>> reduced = ImmutableList.builder();
    for (int r = 0; r < replicas.size(); r++) {
      Ops tf = replicas.get(r);
      Output<TFloat32> out = tf.scope().opBuilder("CollectiveReduceV2", "all_reduce_" + instanceKey + "_replica_" + r)
          .addInput(values.get(r).asOutput())
          .addInput(tf.constant(replicas.size()).asOutput()) // group_size
          .addInput(tf.constant(GROUP_KEY).asOutput())
          .addInput(tf.constant(instanceKey).asOutput())
          .addInputList(new Output<?>[0]) // ordering_token: none, the step's data dependencies order it
          .setAttr("merge_op", "Add")
          .setAttr("final_op", "Div")
          .setAttr("communication_hint", gpus ? "nccl" : "auto")
          .build()
          .output(0);
      reduced.add(out);
    }
    return reduced.build();
  }
}
