package io.switchhead.graph.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
import java.util.Random;
import org.junit.jupiter.api.Test;

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
    double[][] local = losses(Replicas.cpu(2), batches);
    double[][] remote = losses(Replicas.cluster(cluster), batches);
    for (int step = 0; step < batches.length; step++) {
      assertEquals(local[step][0], remote[step][0], 1e-5, "loss of step " + step);
      assertEquals(local[step][1], remote[step][1], 1e-5 * local[step][1], "gradient norm of step " + step);
    }
  }

  private static double[][] losses(Replicas replicas, int[][] batches) {
    double[][] out = new double[batches.length][];
    try (TrainingGraph graph = new TrainingGraph(MODEL, SETTINGS, EnumSet.of(StepKind.PLAIN), replicas)) {
      for (int step = 0; step < batches.length; step++) {
        StepMetrics m = graph.step(batches[step], step, 11, 1e-2, false);
        out[step] = new double[] {m.loss(), m.gradientNorm()};
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
