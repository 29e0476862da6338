package io.switchhead.graph.params;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkState;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.types.TFloat64;

/**
 * The initialisation of a store's variables: for each, an Assign from a placeholder, run with a
 * tensor made in Java ({@link InitialValues}). Runs a bounded number of bytes at a time, so the
 * Java-made tensors alive at once stay small beside the variables, and few enough runs that
 * setting up each one's executor (TensorFlow prunes a copy of the whole graph for it) costs little.
 */
final class VariableInits {

  /**
   * The most bytes of values fed in one run, unless one variable alone is more. 64 MiB: a 47M
   * model's 594 MB of variables in about ten runs.
   */
  static final long BATCH_BYTES = 64L << 20;

  /** One variable's initialisation: the placeholder its value is fed to and the Assign that takes it. */
  record Entry(ParamSpec spec, Operand<?> value, GraphOperation assign) {}

  private final Map<String, Entry> entries = new LinkedHashMap<>();

  void add(ParamSpec spec, Operand<?> value, GraphOperation assign) {
    checkArgument(entries.put(spec.path(), new Entry(spec, value, assign)) == null, "variable '%s' has two initialisations", spec.path());
  }

  /**
   * Gives every variable its initial value under {@code modelSeed}.
   *
   * @throws IllegalStateException if the graph holds a variable this store did not create (it
   *     would stay uninitialised)
   */
  void run(Session session, long modelSeed) {
    checkCovers(session.graph());
    List<Entry> batch = new ArrayList<>();
    long bytes = 0;
    for (Entry e : entries.values()) {
      long size = e.spec().size() * bytesPerElement(e.spec());
      if (!batch.isEmpty() && bytes + size > BATCH_BYTES) {
        runBatch(session, batch, modelSeed);
        batch.clear();
        bytes = 0;
      }
      batch.add(e);
      bytes += size;
    }
    if (!batch.isEmpty()) {
      runBatch(session, batch, modelSeed);
    }
  }

  private static void runBatch(Session session, List<Entry> batch, long modelSeed) {
    try (Fed fed = new Fed()) {
      Session.Runner runner = session.runner();
      for (Entry e : batch) {
        runner.feed(e.value(), fed.add(InitialValues.of(e.spec(), modelSeed))).addTarget(e.assign());
      }
      runner.run().close();
    }
  }

  /** Every VariableV2 of the graph is one of these: nothing is left for TensorFlow's own initialisers. */
  private void checkCovers(Graph graph) {
    TreeSet<String> others = new TreeSet<>();
    for (Iterator<GraphOperation> it = graph.operations(); it.hasNext(); ) {
      GraphOperation op = it.next();
      if (op.type().equals("VariableV2") && !entries.containsKey(op.name())) {
        others.add(op.name());
      }
    }
    checkState(others.isEmpty(), "the graph has variables %s that the parameter store did not create: they would stay uninitialised",
        others);
  }

  private static long bytesPerElement(ParamSpec spec) {
    return spec.type() == TFloat64.class ? Double.BYTES : Float.BYTES;
  }

  /** The tensors fed in one run, closed together once it is done. */
  private static final class Fed implements AutoCloseable {
    private final List<Tensor> tensors = new ArrayList<>();

    Tensor add(Tensor t) {
      tensors.add(t);
      return t;
    }

    @Override
    public void close() {
      tensors.forEach(Tensor::close);
    }
  }
}
