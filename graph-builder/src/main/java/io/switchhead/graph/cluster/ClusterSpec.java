package io.switchhead.graph.cluster;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import java.nio.file.Path;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.tensorflow.DeviceSpec;
import org.tensorflow.proto.ClusterDef;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.JobDef;
import org.tensorflow.proto.ServerDef;

/**
 * The tasks of a training cluster on TensorFlow's gRPC runtime: one job, {@code worker}, whose task
 * I serves at {@code workers.get(I)}; task 0 is the chief, which builds the graph and drives the
 * session. Read from a file by {@link ClusterFile}.
 *
 * @param file where the spec was read from, named in errors
 * @param workers "host:port" of each task, distinct
 */
public record ClusterSpec(Path file, ImmutableList<String> workers) {

  /** The one job of the cluster. */
  public static final String JOB = "worker";

  /** The task that builds the graph, drives the session and writes the run. */
  public static final int CHIEF = 0;

  private static final Pattern TASK = Pattern.compile("/job:" + JOB + "/replica:0/task:(\\d+)");

  public ClusterSpec {
    checkArgument(!workers.isEmpty(), "%s: \"worker\" lists no task", file);
    checkArgument(workers.stream().distinct().count() == workers.size(), "%s: \"worker\" names an address twice: %s", file, workers);
  }

  public int tasks() {
    return workers.size();
  }

  /**
   * @throws IllegalArgumentException naming the file if there is no such task
   */
  public void checkTask(int task) {
    checkArgument(task >= 0 && task < tasks(), "--task (%s) must be in [0, %s): %s lists %s worker%s", task, tasks(), file, tasks(),
        tasks() == 1 ? "" : "s");
  }

  /** The CPU of task {@code task}, where its replica runs. */
  public DeviceSpec device(int task) {
    checkTask(task);
    return DeviceSpec.newBuilder().job(JOB).replica(0).task(task).deviceType(DeviceSpec.DeviceType.CPU).deviceIndex(0).build();
  }

  /** The session target of task {@code task}'s server. */
  public String target(int task) {
    checkTask(task);
    return "grpc://" + workers.get(task);
  }

  /**
   * {@code base} with the chief as the collectives' group leader. Without it a CollectiveReduceV2
   * over devices of several tasks waits until it times out: no task knows who gathers the group.
   */
  public ConfigProto session(ConfigProto base) {
    return base.toBuilder().setExperimental(base.getExperimental().toBuilder()
        .setCollectiveGroupLeader("/job:" + JOB + "/replica:0/task:" + CHIEF)).build();
  }

  /**
   * The server definition of task {@code task}. Its default session config names the group leader
   * too: the workers' collective executors read it from there, not from the chief's session.
   */
  public ServerDef server(int task) {
    checkTask(task);
    JobDef.Builder job = JobDef.newBuilder().setName(JOB);
    for (int i = 0; i < tasks(); i++) {
      job.putTasks(i, workers.get(i));
    }
    return ServerDef.newBuilder().setCluster(ClusterDef.newBuilder().addJob(job)).setJobName(JOB).setTaskIndex(task)
        .setProtocol("grpc").setDefaultSessionConfig(session(ConfigProto.getDefaultInstance())).build();
  }

  /**
   * The task a TensorFlow error message is about: the first task other than the chief that it names
   * by device, else the first task it names by address, else the chief if it names its device.
   */
  public Optional<Integer> taskIn(String message) {
    boolean namesChief = false;
    Matcher m = TASK.matcher(message);
    while (m.find()) {
      int task = Integer.parseInt(m.group(1));
      if (task != CHIEF && task < tasks()) {
        return Optional.of(task);
      }
      namesChief |= task == CHIEF;
    }
    for (int i = 0; i < tasks(); i++) {
      if (i != CHIEF && message.contains(workers.get(i))) {
        return Optional.of(i);
      }
    }
    return namesChief ? Optional.of(CHIEF) : Optional.empty();
  }

  /** "task I (host:port)", as errors name a task. */
  public String describe(int task) {
    return "task " + task + " (" + workers.get(task) + ")";
  }
}
