package io.switchhead.graph.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.collect.ImmutableList;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.train.AdamW;
import io.switchhead.graph.train.Replicas;
import io.switchhead.graph.train.StepKind;
import io.switchhead.graph.train.StepMetrics;
import io.switchhead.graph.train.StepSettings;
import io.switchhead.graph.train.TrainingGraph;
import io.switchhead.testing.Seeded;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.DeviceStepStats;

/**
 * A step replicated over the two tasks of a cluster on TensorFlow's gRPC runtime, through a session
 * on the chief's server ({@link RemoteSession}), is the step on two devices of one process. Both
 * servers run in this JVM (they cannot be stopped, so they serve until it exits); across JVMs the
 * e2e {@code ClusterEndToEndTest} runs it.
 */
class ClusterTrainingTest {

  private static final ModelConfig MODEL = new ModelConfig(32, 16, 1, 4, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0),
      new DenseFeedForwardConfig(8), 0, 0.7);
  private static final StepSettings SETTINGS = new StepSettings(4, 3, AdamW.paper(0.01), 0.3);

  @Seeded private Random random;

  @Test
  void aStepOverTwoTasksIsTheStepOverTwoDevices() throws IOException {
    int[][] batches = new int[3][];
    for (int i = 0; i < batches.length; i++) {
      batches[i] = random.ints(4 * (MODEL.context() + 1), 0, MODEL.vocabSize()).toArray();
    }
    ClusterSpec cluster = new ClusterSpec(Path.of("cluster.json"),
        ImmutableList.of("127.0.0.1:" + freePort(), "127.0.0.1:" + freePort()));
    ClusterServer.start(cluster, 0);
    ClusterServer.start(cluster, 1);
    double[][] local = losses(Replicas.cpu(2), batches, null, null);
    Map<String, Integer> matmulsByDevice = new TreeMap<>();
    Set<String> variableDevices = new TreeSet<>();
    double[][] remote = losses(Replicas.cluster(cluster), batches, matmulsByDevice, variableDevices);
    // Each task computes its replica: as many matmuls on the worker as on the chief (which also runs the update and reads).
    String chief = cluster.device(0).toString();
    String worker = cluster.device(1).toString();
    assertEquals(Set.of(chief, worker), matmulsByDevice.keySet());
    assertTrue(matmulsByDevice.get(worker) > 0 && matmulsByDevice.get(worker).equals(matmulsByDevice.get(chief)), matmulsByDevice.toString());
    assertEquals(Set.of(chief), variableDevices, "ops without a device, the variables among them, are placed on the chief");
    for (int step = 0; step < batches.length; step++) {
      assertEquals(local[step][0], remote[step][0], 1e-5, "loss of step " + step);
      assertEquals(local[step][1], remote[step][1], 1e-5 * local[step][1], "gradient norm of step " + step);
    }
  }

  /**
   * The loss and gradient norm of each step (not applied); then, if {@code matmuls} is given, a
   * traced step's matmuls by device and the devices its variables are on.
   */
  private static double[][] losses(Replicas replicas, int[][] batches, Map<String, Integer> matmuls, Set<String> variableDevices) {
    double[][] out = new double[batches.length][];
    try (TrainingGraph graph = new TrainingGraph(MODEL, SETTINGS, EnumSet.of(StepKind.PLAIN), replicas)) {
      for (int step = 0; step < batches.length; step++) {
        StepMetrics m = graph.step(batches[step], step, 11, 1e-2, false);
        out[step] = new double[] {m.loss(), m.gradientNorm()};
      }
      if (matmuls != null) {
        for (DeviceStepStats device : graph.tracedStep(batches[0], 0, 11, 1e-2).getStepStats().getDevStatsList()) {
          if (device.getNodeStatsList().stream().anyMatch(n -> n.getTimelineLabel().contains("VariableV2"))) {
            variableDevices.add(device.getDevice());
          }
          long count = device.getNodeStatsList().stream().filter(n -> n.getTimelineLabel().contains("MatMul")).count();
          if (count > 0) {
            matmuls.merge(device.getDevice(), (int) count, Integer::sum);
          }
        }
      }
    }
    return out;
  }

  /** A port free now; the server binds it a moment later (nothing else on this machine races for it in a test). */
  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}
