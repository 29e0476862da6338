package io.switchhead.tools.bench;

import com.google.common.collect.ImmutableSet;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.xla.SessionOptions;
import java.util.Optional;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.RunMetadata;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.types.TFloat32;

/**
 * How many bytes TensorFlow's CPU allocator holds right now, for the whole process: one traced op
 * of its own graph, large enough for the allocator to count it (StepTrace), reports the bytes in
 * use around it. Taken just before a traced step, it is the floor that step's peak rises from:
 * every model's variables and whatever the allocator keeps between steps.
 */
final class AllocatorProbe implements AutoCloseable {

  /** 1 MiB of floats: past the 256 KiB below which oneDNN's allocator keeps no count. */
  private static final int FLOATS = 1 << 18;

  private static final StepPasses NO_PASSES = new StepPasses(ImmutableSet.of(), ImmutableSet.of());

  private final Graph graph = new Graph();
  private final Session session;
  private final Operand<TFloat32> filled;

  AllocatorProbe() {
    Ops tf = GraphOps.create(graph);
    filled = tf.withName("probe").fill(tf.constant(new int[] {FLOATS}), tf.constant(1f));
    session = new Session(graph, SessionOptions.plain());
  }

  /** The bytes in use before the probe's op allocated; empty where the trace recorded none. */
  Optional<Long> bytesInUse() {
    RunOptions trace = RunOptions.newBuilder().setTraceLevel(RunOptions.TraceLevel.FULL_TRACE).build();
    RunMetadata metadata;
    try (Result r = session.runner().addTarget(filled).setOptions(trace).runAndFetchMetadata()) {
      metadata = r.getMetadata().orElseThrow();
    }
    // StepTrace's own rule, so the floor and the step it is taken under count the same allocators.
    return StepTrace.of(metadata, graph, NO_PASSES).memory().map(StepTrace.Memory::residentBytes);
  }

  @Override
  public void close() {
    session.close();
    graph.close();
  }
}
