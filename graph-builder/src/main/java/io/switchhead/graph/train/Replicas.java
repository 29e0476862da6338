package io.switchhead.graph.train;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import io.switchhead.graph.cluster.ClusterSpec;
import java.util.Optional;
import org.tensorflow.DeviceSpec;
import org.tensorflow.proto.ConfigProto;

/**
 * The devices a training step is replicated over (data parallelism in one process): each replica
 * runs the forward and backward pass on its device for its share of the batch, and the gradients are
 * all-reduced before one update (see {@link ReplicatedPass}).
 *
 * <p>On the CPU the devices are virtual: the session's {@code device_count {"CPU": N}} makes N CPU
 * devices, which share the process's intra-op thread pool, so replicas running at once split its
 * threads between them.
 *
 * <p>Across processes ({@link #cluster(ClusterSpec)}) replica I runs on the CPU of task I of the
 * cluster, and the session is the chief's server's.
 *
 * @param count the replicas, >= 1; 1 is the one-device step, with no collective ops
 * @param type the kind of device each replica runs on
 * @param cluster the tasks the replicas run on, one each; empty: the devices of this process
 */
public record Replicas(int count, DeviceSpec.DeviceType type, Optional<ClusterSpec> cluster) {

  public Replicas {
    checkArgument(count >= 1, "--devices (%s) must be >= 1", count);
    checkNotNull(type, "device type is missing");
    checkArgument(type == DeviceSpec.DeviceType.CPU || type == DeviceSpec.DeviceType.GPU, "replicas run on CPUs or GPUs, not %s", type);
    checkArgument(cluster.isEmpty() || cluster.get().tasks() == count, "one replica per task of the cluster");
  }

  /** {@code count} devices of {@code type} in this process. */
  public Replicas(int count, DeviceSpec.DeviceType type) {
    this(count, type, Optional.empty());
  }

  /** One replica on the CPU of each task of {@code cluster}. */
  public static Replicas cluster(ClusterSpec cluster) {
    return new Replicas(cluster.tasks(), DeviceSpec.DeviceType.CPU, Optional.of(cluster));
  }

  /** The one-device step. */
  public static Replicas one() {
    return new Replicas(1, DeviceSpec.DeviceType.CPU);
  }

  /** {@code count} virtual CPU devices. */
  public static Replicas cpu(int count) {
    return new Replicas(count, DeviceSpec.DeviceType.CPU);
  }

  /**
   * {@code count} devices of this machine: its GPUs if it has any, else virtual CPU devices.
   *
   * @throws IllegalArgumentException if there are GPUs but fewer than {@code count}
   */
  public static Replicas ofMachine(int count) {
    checkArgument(count >= 1, "--devices (%s) must be >= 1", count);
    if (count == 1) {
      return one();
    }
    int gpus = GpuCount.upTo(count);
    if (gpus == 0) {
      return cpu(count);
    }
    checkArgument(gpus >= count, "--devices %s, but this machine has %s GPU%s: give --devices %s or fewer", count, gpus,
        gpus == 1 ? "" : "s", gpus);
    return new Replicas(count, DeviceSpec.DeviceType.GPU);
  }

  /**
   * Whether the step is built as replicas with a collective: several devices, or a cluster (whose
   * one task still runs its step on the task's device, under the session of its server).
   */
  public boolean replicated() {
    return count > 1 || cluster.isPresent();
  }

  /** The device of replica {@code index}. */
  public DeviceSpec device(int index) {
    checkArgument(index >= 0 && index < count, "replica %s is not in [0, %s)", index, count);
    if (cluster.isPresent()) {
      return cluster.get().device(index);
    }
    return DeviceSpec.newBuilder().deviceType(type).deviceIndex(index).build();
  }

  /**
   * The sequences each replica takes of a global batch of {@code batch}: equal shares, so that the
   * mean of the replicas' per-token means is the global per-token mean.
   *
   * @throws IllegalArgumentException if {@code batch} is not a multiple of the count
   */
  public int share(int batch) {
    if (batch % count != 0) {
      int below = batch / count * count;
      int above = below + count;
      throw new IllegalArgumentException(String.format("--batch (%s) must be divisible by %s (%s): each device takes an "
          + "equal share of the batch; give --batch %s", batch, cluster.isPresent() ? "the cluster's tasks" : "--devices", count, below == 0 ? above : below + " or " + above));
    }
    return batch / count;
  }

  /**
   * The session configuration with this many devices: on the CPU, as many virtual devices; on a
   * cluster, the group leader of its collectives.
   */
  public ConfigProto session(ConfigProto base) {
    if (cluster.isPresent()) {
      return cluster.get().session(base);
    }
    if (!replicated() || type != DeviceSpec.DeviceType.CPU) {
      return base;
    }
    return base.toBuilder().putDeviceCount("CPU", count).build();
  }
}
