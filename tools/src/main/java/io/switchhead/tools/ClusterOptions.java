package io.switchhead.tools;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.graph.cluster.ClusterFile;
import io.switchhead.graph.cluster.ClusterSpec;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/** {@code train --cluster FILE --task I}: which task of which cluster this process is. */
final class ClusterOptions {

  /** This process's place in the cluster: task {@code task} of {@code spec}. */
  record Task(ClusterSpec spec, int task) {

    boolean chief() {
      return task == ClusterSpec.CHIEF;
    }
  }

  @Option(names = "--cluster", paramLabel = "FILE.json", description = {
      "Train over the tasks of a TensorFlow gRPC cluster, {\"worker\": [\"host:port\", ...]}: one replica per task. Task 0 (the "
          + "chief) builds the graph, feeds the data and writes the run; the others serve until the chief's server goes away (they need no other option). "
          + "TensorFlow's gRPC runtime authenticates no one and listens on every interface of each port: a private network only."})
  Path cluster;

  @Option(names = "--task", paramLabel = "I", description = "With --cluster: this process's index in the \"worker\" list.")
  Integer task;

  /** The task, checked against the file before any server starts; empty without --cluster. */
  Optional<Task> read() {
    if (cluster == null) {
      checkArgument(task == null, "--task applies to --cluster only");
      return Optional.empty();
    }
    checkArgument(task != null, "--cluster needs --task I: this process's index in %s's \"worker\" list", cluster);
    ClusterSpec spec = ClusterFile.read(cluster);
    spec.checkTask(task);
    return Optional.of(new Task(spec, task));
  }
}
