package io.switchhead.graph.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.DenseAttentionConfig;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.PeerConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.gradients.Gradients;
import io.switchhead.ops.xla.SessionOptions;
import io.switchhead.testing.Seeded;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * A step replicated over N virtual CPU devices is the one-device step on the same global batch, to
 * float32 rounding: the loss, the gradient norm (clipping on the global norm) and every variable
 * after the update (parameters, Adam moments, XL memories).
 */
class DataParallelTest {

  /** Batch 6 splits over 2 and 3 devices; no dropout, so a replica's rows see the one-device arithmetic. */
  private static final int BATCH = 6;
  private static final ModelConfig ROPE = new ModelConfig(32, 16, 1, 4, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0),
      new DenseFeedForwardConfig(8), 0, 0.7);
  private static final ModelConfig XL = new ModelConfig(32, 16, 1, 4, new SwitchHeadConfig(2, 3, 2, 8, Positional.XL, 0),
      new DenseFeedForwardConfig(8), 0, 0.7);
  /** A sigma-MoE feed-forward with a heavy entropy regulariser (a statistic of the batch). */
  private static final ModelConfig SIGMA_MOE = new ModelConfig(32, 16, 1, 4, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0),
      new SigmaMoeConfig(4, 6, 2, 0, 0.5, false), 0, 0.7);
  /** PEER (product keys, BatchNorm'd queries, expert tables read by rows) of 64 experts. */
  private static final ModelConfig PEER = new ModelConfig(32, 16, 1, 4, new DenseAttentionConfig(2, 8, Positional.ROPE),
      new PeerConfig(64, 1, 2, 4, PeerConfig.Activation.GELU, 0.9, 1e-3), 0, 0.7);
  private static final String PEER_TABLE = "layers/0/ff/u";
  /** A clip below the first steps' gradient norms, so the update is scaled by the global norm. */
  private static final StepSettings SETTINGS = new StepSettings(BATCH, 3, AdamW.paper(0.01), 0.3);

  private static final double LEARNING_RATE = 1e-2;

  @Seeded private Random random;

  /**
   * With XLA each replica's step is compiled on its device (the collective stays outside the
   * clusters); its static-shape expert layouts give the plain graph's values to rounding.
   */
  @Test
  void stepsOnTwoAndThreeDevicesWithAndWithoutXlaAreTheOneDeviceSteps() {
    List<int[]> batches = batches(ROPE, 2);
    Run one = run(ROPE, StepKind.PLAIN, Replicas.one(), batches);
    for (int devices : new int[] {2, 3}) {
      assertSame(one, run(ROPE, StepKind.PLAIN, Replicas.cpu(devices), batches), devices + " devices");
    }
    assertSame(one, run(ROPE, StepKind.XLA, Replicas.cpu(2), batches), "2 devices, XLA");
    assertTrue(one.norms[0] > SETTINGS.gradientClip(), "the clip must act for the test to check it: norm " + one.norms[0]);
  }

  /** Each replica keeps the memory of its own rows, so the memory variables are the one-device ones. */
  @Test
  void xlMemoriesFollowEachRowOnTwoDevices() {
    List<int[]> batches = batches(XL, 2);
    Run one = run(XL, StepKind.PLAIN, Replicas.one(), batches);
    Run two = run(XL, StepKind.PLAIN, Replicas.cpu(2), batches);
    assertTrue(one.variables.keySet().stream().anyMatch(n -> n.startsWith("memory/train/")), one.variables.keySet().toString());
    assertSame(one, two, "2 devices, XL");
  }

  /**
   * The sigma-MoE entropy regulariser is a function of the batch's mean expert usage, so a replica
   * takes it over its own rows: the replicated loss is the LM loss of the global batch plus the
   * replicas' mean of their shards' regularisers, which is the mean of the one-device losses of the
   * shards, and not the one-device loss of the whole batch.
   */
  @Test
  void batchWideRegularisersAreTakenPerReplica() {
    int[] tokens = batches(SIGMA_MOE, 1).get(0);
    int half = tokens.length / 2;
    StepSettings shard = new StepSettings(BATCH / 2, SETTINGS.seed(), SETTINGS.optimizer(), SETTINGS.gradientClip());
    double[] shardLoss = new double[2];
    try (TrainingGraph graph = new TrainingGraph(SIGMA_MOE, shard, EnumSet.of(StepKind.PLAIN))) {
      for (int r = 0; r < 2; r++) { // without the update: both shards see the initial parameters
        shardLoss[r] = graph.step(Arrays.copyOfRange(tokens, r * half, (r + 1) * half), 0, 11, LEARNING_RATE, false).loss();
      }
    }
    StepMetrics whole;
    try (TrainingGraph graph = new TrainingGraph(SIGMA_MOE, SETTINGS, EnumSet.of(StepKind.PLAIN))) {
      whole = graph.step(tokens, 0, 11, LEARNING_RATE, false);
    }
    StepMetrics two;
    try (TrainingGraph graph = new TrainingGraph(SIGMA_MOE, SETTINGS, EnumSet.of(StepKind.PLAIN), Replicas.cpu(2))) {
      two = graph.step(tokens, 0, 11, LEARNING_RATE, false);
    }
    assertEquals(whole.lmLoss(), two.lmLoss(), 1e-5, "the LM loss is the global per-token mean");
    assertEquals((shardLoss[0] + shardLoss[1]) / 2, two.loss(), 1e-5, "the regulariser is the replicas' mean of theirs");
    assertTrue(Math.abs(whole.loss() - two.loss()) > 1e-4, "the whole batch's regulariser differs: " + whole.loss() + " vs " + two.loss());
  }

  /**
   * PEER's BatchNorm normalises each replica's rows by their own statistics, so the replicated step
   * is the one-device step of each shard, averaged: its loss is the shards' mean, and the expert
   * rows it updates (lazily, at the rows read) are the union of the rows each shard's step updates.
   */
  @Test
  void aPeerStepUpdatesTheRowsAnyReplicaRead() {
    int[] tokens = batches(PEER, 1).get(0);
    int half = tokens.length / 2;
    StepSettings shard = new StepSettings(BATCH / 2, SETTINGS.seed(), SETTINGS.optimizer(), SETTINGS.gradientClip());
    Set<Integer> shardRows = new TreeSet<>();
    double shardLoss = 0;
    for (int r = 0; r < 2; r++) {
      try (TrainingGraph graph = new TrainingGraph(PEER, shard, EnumSet.of(StepKind.PLAIN))) {
        float[] before = value(graph, PEER_TABLE);
        shardLoss += graph.step(Arrays.copyOfRange(tokens, r * half, (r + 1) * half), 0, 11, LEARNING_RATE, true).loss() / 2;
        shardRows.addAll(changedRows(before, value(graph, PEER_TABLE)));
      }
    }
    try (TrainingGraph graph = new TrainingGraph(PEER, SETTINGS, EnumSet.of(StepKind.PLAIN), Replicas.cpu(2))) {
      float[] before = value(graph, PEER_TABLE);
      assertEquals(shardLoss, graph.step(tokens, 0, 11, LEARNING_RATE, true).loss(), 1e-5, "the shards' mean loss");
      assertEquals(shardRows, changedRows(before, value(graph, PEER_TABLE)), "the rows updated");
    }
  }

  private static float[] value(TrainingGraph graph, String variable) {
    try (Result r = graph.session().runner().fetch(variable).run()) {
      return Tensors.toFloats(r.get(0));
    }
  }

  /** The rows of a [rows, D] table that differ. */
  private static Set<Integer> changedRows(float[] before, float[] after) {
    Set<Integer> rows = new TreeSet<>();
    for (int i = 0; i < before.length; i++) {
      if (before[i] != after[i]) {
        rows.add(i / PEER.dModel());
      }
    }
    return rows;
  }

  /**
   * The trap the function calls avoid: gradients built through the C API carry no device, so a
   * replica's backward built in the main graph would run on the default device whatever the
   * forward's device. Each replica is a function call on its own device instead.
   */
  @Test
  void gradientOpsCarryNoDeviceSoEachReplicaIsAFunctionCallOnItsDevice() {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      Ops second = tf.withDevice(Replicas.cpu(2).device(1));
      Operand<TFloat32> x = second.constant(new float[] {1, 2});
      Operand<TFloat32> y = second.reduceSum(second.math.mul(x, x), second.constant(0));
      Operand<?> dx = Gradients.of(second, y, List.of(x)).get(0);
      assertEquals("/device:CPU:1", ((GraphOperation) y.op()).device());
      assertEquals("", ((GraphOperation) dx.op()).device(), "TensorFlow gives gradient ops a device now: simplify ReplicatedPass");
    }
    try (TrainingGraph graph = new TrainingGraph(ROPE, SETTINGS, EnumSet.of(StepKind.PLAIN), Replicas.cpu(2))) {
      Set<String> callDevices = new TreeSet<>();
      graph.graph().operations().forEachRemaining(op -> {
        if (op.type().endsWith("PartitionedCall")) {
          callDevices.add(((GraphOperation) op).device());
        }
      });
      assertEquals(Set.of("/device:CPU:0", "/device:CPU:1"), callDevices);
    }
  }

  /** One device is the step as it was: built in the graph itself, no function call, no collective, one CPU device. */
  @Test
  void oneDeviceBuildsNoReplicas() {
    try (TrainingGraph graph = new TrainingGraph(ROPE, SETTINGS, EnumSet.of(StepKind.PLAIN), Replicas.one())) {
      Set<String> types = new TreeSet<>();
      graph.graph().operations().forEachRemaining(op -> types.add(op.type()));
      assertTrue(types.stream().noneMatch(t -> t.startsWith("Collective") || t.endsWith("PartitionedCall")), types.toString());
    }
    assertEquals(SessionOptions.plain(), Replicas.one().session(SessionOptions.plain()));
  }

  @Test
  void anUnevenSplitAndNoDevicesAreRefused() {
    IllegalArgumentException uneven = assertThrows(IllegalArgumentException.class,
        () -> new TrainingGraph(ROPE, new StepSettings(5, 1, AdamW.paper(0), 1), EnumSet.of(StepKind.PLAIN), Replicas.cpu(2)));
    assertTrue(uneven.getMessage().contains("--batch (5) must be divisible by --devices (2)"), uneven.getMessage());
    IllegalArgumentException none = assertThrows(IllegalArgumentException.class, () -> Replicas.cpu(0));
    assertTrue(none.getMessage().contains("--devices (0) must be >= 1"), none.getMessage());
  }

  /** The losses and norms of each step, and every variable after the last. */
  private record Run(double[] losses, double[] lmLosses, double[] norms, Map<String, float[]> variables) {}

  private Run run(ModelConfig c, StepKind kind, Replicas replicas, List<int[]> batches) {
    int n = batches.size();
    Run r = new Run(new double[n], new double[n], new double[n], new LinkedHashMap<>());
    try (TrainingGraph graph = new TrainingGraph(c, SETTINGS, EnumSet.of(kind), replicas)) {
      for (int step = 0; step < n; step++) {
        StepMetrics m = graph.step(batches.get(step), step, 11, LEARNING_RATE, true);
        r.losses[step] = m.loss();
        r.lmLosses[step] = m.lmLoss();
        r.norms[step] = m.gradientNorm();
      }
      Session.Runner fetch = graph.session().runner();
      List<String> names = List.copyOf(graph.variables().keySet());
      names.forEach(fetch::fetch);
      try (Result values = fetch.run()) {
        for (int i = 0; i < names.size(); i++) {
          r.variables.put(names.get(i), Tensors.toFloats(values.get(i)));
        }
      }
    }
    return r;
  }

  private static void assertSame(Run expected, Run actual, String what) {
    for (int step = 0; step < expected.losses.length; step++) {
      assertEquals(expected.losses[step], actual.losses[step], 1e-5, what + ": loss of step " + step);
      assertEquals(expected.lmLosses[step], actual.lmLosses[step], 1e-5, what + ": LM loss of step " + step);
      assertEquals(expected.norms[step], actual.norms[step], 1e-5 * expected.norms[step], what + ": gradient norm of step " + step);
    }
    assertEquals(expected.variables.keySet(), actual.variables.keySet(), what);
    int steps = expected.losses.length;
    expected.variables.forEach((name, want) -> {
      float[] got = actual.variables.get(name);
      double largest = 0;
      for (float v : want) {
        largest = Math.max(largest, Math.abs(v));
      }
      // Moments and memories are linear in the pass: to 1e-4 of their largest element (XLA's fused
      // arithmetic rounds otherwise than the plain graph, on small sums of large terms). A parameter
      // moves by lr * m / (sqrt(v) + eps), which divides the rounding of a tiny gradient by that
      // gradient's own size; a wrong gradient moves elements by a whole step (about lr), so a
      // hundredth of a step per step bounds rounding and still fails on an error.
      boolean parameter = !name.endsWith("/adam_m") && !name.endsWith("/adam_v") && !name.startsWith("memory/");
      double tolerance = 1e-4 * largest + 1e-12 + (parameter ? 1e-2 * LEARNING_RATE * steps : 0);
      for (int i = 0; i < want.length; i++) {
        assertEquals(want[i], got[i], tolerance, what + ": " + name + "[" + i + "]");
      }
    });
  }

  private List<int[]> batches(ModelConfig c, int count) {
    List<int[]> batches = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      batches.add(random.ints(BATCH * (c.context() + 1), 0, c.vocabSize()).toArray());
    }
    return batches;
  }
}
