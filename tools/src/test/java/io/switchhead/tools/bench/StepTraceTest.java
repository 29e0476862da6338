package io.switchhead.tools.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.collect.ImmutableSet;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.xla.SessionOptions;
import io.switchhead.testing.Seeded;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.proto.AllocatorMemoryUsed;
import org.tensorflow.proto.DeviceStepStats;
import org.tensorflow.proto.NodeExecStats;
import org.tensorflow.proto.RunMetadata;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.proto.StepStats;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;

/** The traced FLOPs and memory against what the graph's shapes and sizes say, worked out by hand. */
class StepTraceTest {

  @Seeded private Random random;

  @Test
  void countsEachExecutedMatmulFromItsTracedShapeEvenWhereTheBuildDidNotKnowIt() {
    int m = 2 + random.nextInt(20);
    int k = 2 + random.nextInt(20);
    int n = 2 + random.nextInt(20);
    int rows = 2 + random.nextInt(40); // known only when fed: an expert's rows in a weight gradient
    int batch = 2 + random.nextInt(4);
    try (Graph g = new Graph(); Session s = new Session(g, SessionOptions.plain())) {
      Ops tf = GraphOps.create(g);
      var a = tf.random.randomStandardNormal(tf.constant(new long[] {m, k}), TFloat32.class);
      var b = tf.random.randomStandardNormal(tf.constant(new long[] {k, n}), TFloat32.class);
      var product = tf.linalg.matMul(a, b);
      // Operands whose rows the build does not know: computed from fed shapes, as an expert's rows
      // in a weight gradient are computed from the routing.
      Placeholder<TInt64> xShape = tf.placeholder(TInt64.class, Placeholder.shape(Shape.of(2)));
      Placeholder<TInt64> gradShape = tf.placeholder(TInt64.class, Placeholder.shape(Shape.of(2)));
      var x = tf.random.randomStandardNormal(xShape, TFloat32.class);
      var grad = tf.random.randomStandardNormal(gradShape, TFloat32.class);
      var weightGradient = tf.linalg.matMul(x, grad, org.tensorflow.op.linalg.MatMul.transposeA(true));
      var batched = tf.train.batchMatMul(tf.random.randomStandardNormal(tf.constant(new long[] {batch, m, k}), TFloat32.class),
          tf.random.randomStandardNormal(tf.constant(new long[] {batch, k, n}), TFloat32.class), TFloat32.class);
      try (TInt64 xs = TInt64.vectorOf(rows, k); TInt64 gs = TInt64.vectorOf(rows, n)) {
        StepTrace trace = StepTrace.of(traced(s.runner().feed(xShape, xs).feed(gradShape, gs).fetch(product).fetch(weightGradient).fetch(batched)), g, new StepPasses(ImmutableSet.of(), ImmutableSet.of()));
        assertEquals((long) m * k * n + (long) k * rows * n + (long) batch * m * k * n, trace.matmulMacs(),
            "m " + m + ", k " + k + ", n " + n + ", rows " + rows + ", batch " + batch);
        assertEquals(3, trace.matmulNodes());
        assertTrue(trace.microsByOpType().containsKey("MatMul") && trace.microsByOpType().containsKey("RandomStandardNormal"),
            "node time by op type: " + trace.microsByOpType());
      }
    }
  }

  @Test
  void timeIsCountedByPartWithTheBackwardPassApart() {
    int rows = 64 + random.nextInt(64);
    try (Graph g = new Graph(); Session s = new Session(g, SessionOptions.plain())) {
      Ops tf = GraphOps.create(g);
      Ops block = tf.withSubScope("layers").withSubScope("3");
      Ops norm = block.withSubScope("ff_norm");
      Ops ff = block.withSubScope("ff");
      var w1 = ff.variable(ff.random.randomStandardNormal(ff.constant(new long[] {rows, rows}), TFloat32.class));
      var w2 = ff.variable(ff.random.randomStandardNormal(ff.constant(new long[] {rows, rows}), TFloat32.class));
      s.initialize();
      // A weight's gradient reads the part's input (made by the norm) and a gradient; an input's
      // gradient reads the weights; neither op is named after the part, so both are found by what they read.
      var x = norm.math.tanh(tf.random.randomStandardNormal(tf.constant(new long[] {rows, rows}), TFloat32.class));
      var y = ff.linalg.matMul(ff.math.tanh(ff.linalg.matMul(x, w1)), w2);
      var loss = tf.reduceSum(tf.math.square(y), tf.constant(new int[] {0, 1}));
      List<Operand<?>> gradients = io.switchhead.ops.gradients.Gradients.of(tf, loss, List.of(w1, w2));
      Map<String, String> parts = new HashMap<>();
      for (Operand<?> gradient : gradients) {
        assertEquals("ff backward", StepTrace.partOf(gradient.op().name(), g, parts), gradient.op().name());
      }
      Session.Runner runner = s.runner().fetch(loss);
      gradients.forEach(runner::fetch);
      StepTrace trace = StepTrace.of(traced(runner), g, StepPasses.around(loss));
      assertTrue(trace.micros().containsKey(new StepTrace.Maker("ff", "MatMul")), "the forward matmuls: " + trace.micros());
      assertTrue(trace.micros().containsKey(new StepTrace.Maker("ff backward", "MatMul")), "their gradients: " + trace.micros());
      assertTrue(trace.micros().containsKey(new StepTrace.Maker("ff_norm", "Tanh")), "the norm's op: " + trace.micros());
      // Forward: two matmuls; backward: both weights' gradients and the hidden layer's (x needs none).
      long cube = (long) rows * rows * rows;
      assertEquals(2 * cube, trace.macsByPart().get("ff"), "forward MACs: " + trace.macsByPart());
      assertEquals(3 * cube, trace.macsByPart().get("ff backward"), "backward MACs: " + trace.macsByPart());
      assertEquals(trace.micros().values().stream().mapToLong(Long::longValue).sum(),
          trace.microsByOpType().values().stream().mapToLong(Long::longValue).sum(), "by op type, the same time in all");
    }
  }

  @Test
  void thePeakHoldsTheLargestIntermediateAboveWhatWasResident() {
    int rows = 256 + random.nextInt(256);
    int cols = 256 + random.nextInt(256);
    long intermediate = 4L * rows * cols;
    try (Graph g = new Graph(); Session s = new Session(g, SessionOptions.plain())) {
      Ops tf = GraphOps.create(g);
      var weights = tf.variable(tf.random.randomStandardNormal(tf.constant(new long[] {rows, cols}), TFloat32.class));
      s.initialize();
      // Intermediates of the weights' size, reduced to a scalar.
      var doubled = tf.math.mul(weights, tf.constant(2f));
      var squared = tf.math.square(weights);
      var total = tf.reduceSum(tf.math.add(doubled, squared), tf.constant(new int[] {0, 1}));
      RunMetadata metadata = traced(s.runner().fetch(total));
      StepTrace trace = StepTrace.of(metadata, g, StepPasses.around(total));
      String seen = trace + "\nfrom the nodes' memory: " + memoryRecords(metadata);
      StepTrace.Memory memory = trace.memory().orElseThrow(() -> new AssertionError("no allocator memory traced: " + seen));
      assertTrue(memory.residentBytes() >= intermediate, "the variable is resident: " + seen);
      long above = memory.peakBytes() - memory.residentBytes();
      assertTrue(above >= intermediate, "an intermediate of " + intermediate + " bytes above it: " + seen);
      assertTrue(above < 8 * intermediate, "nothing like that much more: " + seen);
      assertEquals(0, trace.matmulMacs());
    }
  }

  @Test
  void theForwardPeakHoldsWhatTheBackwardNeedsAndNoGradient() {
    // Megabytes each: the allocator counts its pool in chunks of up to 2 MiB.
    int rows = 1024 + random.nextInt(512);
    int cols = 1024 + random.nextInt(512);
    long activation = 4L * rows * cols;
    try (Graph g = new Graph(); Session s = new Session(g, SessionOptions.plain())) {
      Ops tf = GraphOps.create(g);
      var weights = tf.variable(tf.random.randomStandardNormal(tf.constant(new long[] {rows, cols}), TFloat32.class));
      s.initialize();
      // Tanh's gradient reads its output: the forward pass keeps one tensor of the weights' size.
      var kept = tf.math.tanh(tf.math.mul(weights, tf.constant(0.5f)));
      var loss = tf.reduceSum(kept, tf.constant(new int[] {0, 1}));
      var gradient = tf.gradients(loss, List.of(weights)).dy(0);
      StepPasses passes = StepPasses.around(loss);
      Set<String> forward = passes.forward();
      assertTrue(forward.contains(kept.op().name()) && forward.contains(loss.op().name()), "the forward ops: " + forward);
      assertFalse(forward.contains(gradient.op().name()), "a gradient op among the forward ones: " + forward);
      assertTrue(forward.stream().noneMatch(name -> name.startsWith("Gradients")), "gradient ops among the forward ones: " + forward);
      assertTrue(passes.backward().contains(gradient.op().name()), "the backward ops: " + passes.backward());
      assertTrue(passes.backward().stream().noneMatch(forward::contains), "an op on both sides: " + passes);

      // After the backward, an op that is not forward holds four gradients' worth at once.
      var afterwards = tf.concat(List.of(gradient, gradient, gradient, gradient), tf.constant(0));

      StepTrace trace = StepTrace.of(traced(s.runner().fetch(loss).fetch(afterwards)), g, passes);
      StepTrace.Memory memory = trace.memory().orElseThrow(() -> new AssertionError("no allocator memory traced: " + trace));
      long forwardRise = memory.forwardPeakBytes() - memory.residentBytes();
      assertTrue(forwardRise >= activation, "the forward pass keeps " + activation + " bytes: " + trace);
      assertTrue(forwardRise < 3 * activation, "nothing like that much more, and not what came after: " + trace);
      assertTrue(memory.peakBytes() - memory.residentBytes() >= 4 * activation, "the step's peak is the op after the forward: " + trace);
      // What the backward reads: tanh's output; the variable it also reads is no activation.
      StepTrace.Maker tanh = new StepTrace.Maker("loss", "Tanh");
      assertEquals(activation, trace.keptBytes().get(tanh), "kept for the backward: " + trace);
      assertTrue(trace.keptBytes().entrySet().stream().allMatch(e -> e.getKey().equals(tanh) || e.getValue() < 64),
          "nothing else but scalars: " + trace);
    }
  }

  @Test
  void aNodeHoldingMoreThanTheAllocatorCountsStillLeavesItsMemoryTraced() {
    // oneDNN's allocator counts only allocations of 256 KiB and up, the tracking of a node all of
    // its own: a first node of small tensors holds more than the bytes in use. Its memory is
    // traced all the same, from nothing resident, and a later node's count sets the peak.
    long small = 1 + random.nextInt(200_000);
    long large = (256 << 10) + random.nextInt(1 << 20);
    RunMetadata metadata = RunMetadata.newBuilder().setStepStats(StepStats.newBuilder().addDevStats(DeviceStepStats.newBuilder()
        .setDevice("/job:localhost/replica:0/task:0/device:CPU:0")
        .addNodeStats(node("small", 1, AllocatorMemoryUsed.newBuilder().setAllocatorName("mklcpu").setLiveBytes(small).setPeakBytes(small)))
        .addNodeStats(node("large", 2, AllocatorMemoryUsed.newBuilder().setAllocatorName("mklcpu").setLiveBytes(large).setPeakBytes(large)
            .setAllocatorBytesInUse(large))))).build();
    try (Graph g = new Graph()) {
      StepTrace trace = StepTrace.of(metadata, g, new StepPasses(ImmutableSet.of("small", "large"), ImmutableSet.of()));
      StepTrace.Memory memory = trace.memory().orElseThrow(() -> new AssertionError("small " + small + ", large " + large + ": no memory in " + trace));
      assertEquals(new StepTrace.Memory(0, large, large), memory, "small " + small + ", large " + large);
    }
  }

  @Test
  void eachAllocatorIsBoundedOnItsOwnAndTheBoundsSummed() {
    // A node of oneDNN's allocator over a resident variable, and one whose scalar came from the
    // plain CPU allocator, which holds next to nothing: the second's count is no bound on the first's.
    long resident = (256 << 10) + random.nextInt(1 << 20);
    long intermediate = (256 << 10) + random.nextInt(1 << 20);
    long scalar = 4;
    RunMetadata metadata = RunMetadata.newBuilder().setStepStats(StepStats.newBuilder().addDevStats(DeviceStepStats.newBuilder()
        .setDevice("/job:localhost/replica:0/task:0/device:CPU:0")
        .addNodeStats(node("square", 1, AllocatorMemoryUsed.newBuilder().setAllocatorName("mklcpu").setLiveBytes(intermediate)
            .setPeakBytes(intermediate).setAllocatorBytesInUse(resident + intermediate)))
        .addNodeStats(node("sum", 2, AllocatorMemoryUsed.newBuilder().setAllocatorName("cpu").setLiveBytes(scalar).setPeakBytes(scalar)
            .setAllocatorBytesInUse(scalar))))).build();
    try (Graph g = new Graph()) {
      StepTrace trace = StepTrace.of(metadata, g, new StepPasses(ImmutableSet.of("square", "sum"), ImmutableSet.of()));
      String given = "resident " + resident + ", intermediate " + intermediate;
      StepTrace.Memory memory = trace.memory().orElseThrow(() -> new AssertionError(given + ": no memory in " + trace));
      long peak = resident + intermediate + scalar;
      assertEquals(new StepTrace.Memory(resident, peak, peak), memory, given);
    }
  }

  /** Each traced node's allocator records, for a failure to show what TensorFlow counted. */
  private static String memoryRecords(RunMetadata metadata) {
    StringBuilder out = new StringBuilder();
    metadata.getStepStats().getDevStatsList().forEach(d -> d.getNodeStatsList().forEach(n -> n.getMemoryList().forEach(m ->
        out.append(String.format("%n  %s: %s live %d, peak %d, in use %d", n.getNodeName(), m.getAllocatorName(), m.getLiveBytes(),
            m.getPeakBytes(), m.getAllocatorBytesInUse())))));
    return out.toString();
  }

  private static NodeExecStats node(String name, long startMicros, AllocatorMemoryUsed.Builder memory) {
    return NodeExecStats.newBuilder().setNodeName(name).setAllStartMicros(startMicros).setTimelineLabel(name + " = Fill(a, b)")
        .addMemory(memory).build();
  }

  private static RunMetadata traced(Session.Runner runner) {
    try (Result r = runner.setOptions(RunOptions.newBuilder().setTraceLevel(RunOptions.TraceLevel.FULL_TRACE).build()).runAndFetchMetadata()) {
      return r.getMetadata().orElseThrow();
    }
  }
}
