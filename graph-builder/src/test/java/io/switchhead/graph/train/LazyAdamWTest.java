package io.switchhead.graph.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.collect.ImmutableList;
import io.switchhead.graph.config.DenseAttentionConfig;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.model.MemoryState;
import io.switchhead.graph.params.Initializer;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.graph.params.RowTable;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.gradients.Gradients;
import io.switchhead.testing.Seeded;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/** Tables read by rows: their gradient is of the rows read, and AdamW updates only those rows. */
class LazyAdamWTest {

  private static final int N = 9;
  private static final int W = 3;
  private static final AdamW ADAM = new AdamW(0.9, 0.999, 1e-8, 0.1);
  private static final double LR = 0.05;
  /** No memory: only GuardedUpdate's argument. */
  private static final ModelConfig NO_MEMORY = new ModelConfig(8, 4, 1, 2, new DenseAttentionConfig(1, 4, Positional.ROPE),
      new DenseFeedForwardConfig(4), 0, 1);

  @Seeded private Random random;

  /** TensorFlow's own gradient of a gather is dense: an UnsortedSegmentSum of the table's full shape. */
  @Test
  void theGatherGradientOfATableIsDense() {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      ParamStore store = ParamStore.variables(tf, 1);
      Operand<TFloat32> rows = store.root().rows("t", Shape.of(N, W), TFloat32.class, Initializer.normal(1), tf.constant(new int[] {1, 4}));
      Operand<TFloat32> loss = tf.reduceSum(rows, tf.constant(new int[] {0, 1}));
      Output<?> dense = (Output<?>) Gradients.of(tf, loss, List.of(store.params().get(0).value())).get(0);
      assertEquals(Shape.of(N, W), dense.shape());
      assertEquals(1, denseTableSums(g, Shape.of(N, W)).size(), "GatherV2's gradient sums into the whole table");
      Output<?> sparse = (Output<?>) ParamGradients.of(tf, loss, store).get(0);
      assertEquals(Shape.of(2, W), sparse.shape(), "the gradient of the rows read is [M, width]");
    }
  }

  private float[] floats(int n) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) random.nextGaussian();
    }
    return x;
  }

  private static float[] read(Session s, Operand<?> x) {
    try (Result r = s.runner().fetch(x).run()) {
      return Tensors.toFloats(r.get(0));
    }
  }

  /**
   * Two steps, the second over other rows (some shared): after it, the rows it read equal dense
   * AdamW (decay, moments, step) applied to the dense gradient at those rows, and every other row,
   * its moments included, is what the first step left.
   */
  @Test
  void aStepEqualsDenseAdamWAtTheRowsReadAndLeavesTheOthers() {
    stepsEqualDenseAdamW(new int[] {5});
  }

  /** The same with the table read in pieces (a PEER layer reads one per chunk of tokens): one read to the update. */
  @Test
  void aTableReadInPiecesUpdatesAsOneRead() {
    stepsEqualDenseAdamW(new int[] {2, 1, 2});
  }

  /** @param pieces the sizes of the pieces the 5 rows are read in */
  private void stepsEqualDenseAdamW(int[] pieces) {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      ParamStore store = ParamStore.variables(tf, random.nextLong());
      Placeholder<TInt32> ids = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(5)));
      Placeholder<TFloat32> weights = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(5, W)));
      RowTable<TFloat32> tableRows = store.root().table("t", Shape.of(N, W), TFloat32.class, Initializer.normal(1));
      List<Operand<TFloat32>> read = new java.util.ArrayList<>();
      for (int i = 0, start = 0; i < pieces.length; start += pieces[i++]) {
        read.add(tableRows.rows(tf.slice(ids, tf.constant(new int[] {start}), tf.constant(new int[] {pieces[i]}))));
      }
      Operand<TFloat32> rows = read.size() == 1 ? read.get(0) : tf.concat(read, tf.constant(0)); // [5, W]
      Operand<TFloat32> dense = store.root().param("b", Shape.of(W), Initializer.normal(1));
      // loss = sum(weights * rows^2) + sum(b^2): gradient 2 * weights * rows at each read (summed over repeats).
      Operand<TFloat32> loss = tf.math.add(tf.reduceSum(tf.math.mul(weights, tf.math.square(rows)), tf.constant(new int[] {0, 1})),
          tf.reduceSum(tf.math.square(dense), tf.constant(0)));
      ImmutableList<Operand<TFloat32>> grads = ImmutableList.copyOf(ParamGradients.of(tf, loss, store).stream()
          .map(o -> (Operand<TFloat32>) o.asOutput().expect(TFloat32.class)).toList());
      AdamW.Slots slots = AdamW.slots(store);
      Placeholder<TFloat32> b1p = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
      Placeholder<TFloat32> b2p = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
      GuardedUpdate update = new GuardedUpdate(store, slots, ADAM, new AdamW.StepInputs(tf.constant((float) LR), b1p, b2p), 1e9,
          MemoryState.create(store, NO_MEMORY, "train", 1));
      TrainStep step = update.build(tf, "t", new Backward(loss, loss, grads, ImmutableList.of(), ImmutableList.of(), ImmutableList.of(), ImmutableList.of(),
          ParamGradients.sparseRows(store), ImmutableList.of()));
      assertEquals(List.of(), denseTableSums(g, Shape.of(N, W)).stream().filter(ancestors((GraphOperation) step.train().op())::contains).toList(),
          "dense [N, W] table gradients the step runs");
      Variable<?> table = store.params().get(0).variable();
      try (Session s = new Session(g)) {
        store.initialize(s);
        int[][] steps = {{0, 2, 2, 5, 7}, {2, 3, 3, 3, 8}};
        for (int t = 0; t < steps.length; t++) {
          float[] w = floats(5 * W);
          float[] before = read(s, table);
          float[] m = read(s, slots.m().get(0));
          float[] v = read(s, slots.v().get(0));
          // The dense gradient of the table: 2 * weight * row, scattered and summed over repeats.
          double[] grad = new double[N * W];
          for (int i = 0; i < 5; i++) {
            for (int j = 0; j < W; j++) {
              grad[steps[t][i] * W + j] += 2 * w[i * W + j] * before[steps[t][i] * W + j];
            }
          }
          double b1Power = Math.pow(ADAM.beta1(), t + 1);
          double b2Power = Math.pow(ADAM.beta2(), t + 1);
          try (TInt32 idTensor = Tensors.ints(Shape.of(5), steps[t]);
              TFloat32 wTensor = TFloat32.tensorOf(Shape.of(5, W), DataBuffers.of(w));
              TFloat32 p1 = TFloat32.scalarOf((float) b1Power);
              TFloat32 p2 = TFloat32.scalarOf((float) b2Power)) {
            s.runner().feed(ids, idTensor).feed(weights, wTensor).feed(b1p, p1).feed(b2p, p2).addTarget(step.train()).run().close();
          }
          float[] after = read(s, table);
          float[] mAfter = read(s, slots.m().get(0));
          float[] vAfter = read(s, slots.v().get(0));
          Set<Integer> touched = new HashSet<>();
          for (int id : steps[t]) {
            touched.add(id);
          }
          for (int row = 0; row < N; row++) {
            for (int j = 0; j < W; j++) {
              int at = row * W + j;
              if (!touched.contains(row)) {
                assertEquals(before[at], after[at], "untouched row " + row + " of step " + t);
                assertEquals(m[at], mAfter[at], "untouched row " + row + "'s first moment");
                assertEquals(v[at], vAfter[at], "untouched row " + row + "'s second moment");
                continue;
              }
              double m1 = ADAM.beta1() * m[at] + (1 - ADAM.beta1()) * grad[at];
              double v1 = ADAM.beta2() * v[at] + (1 - ADAM.beta2()) * grad[at] * grad[at];
              double lrT = LR * Math.sqrt(1 - b2Power) / (1 - b1Power);
              double expected = before[at] - LR * ADAM.weightDecay() * before[at] - lrT * m1 / (Math.sqrt(v1) + ADAM.epsilon());
              assertEquals(m1, mAfter[at], 1e-5, "first moment at row " + row);
              assertEquals(v1, vAfter[at], 1e-5, "second moment at row " + row);
              assertEquals(expected, after[at], 1e-5, "row " + row + " of step " + t);
              assertTrue(after[at] != before[at], "row " + row + " moved");
            }
          }
        }
      }
    }
  }

  /** A PEER model's training step holds no op that builds a [N, D] gradient of its tables. */
  @Test
  void aPeerTrainingStepBuildsNoDenseTableGradient() {
    ModelConfig peer = new ModelConfig(32, 16, 1, 4, new DenseAttentionConfig(2, 8, Positional.ROPE),
        new io.switchhead.graph.config.PeerConfig(64, 1, 2, 4, io.switchhead.graph.config.PeerConfig.Activation.RELU, 0.9, 1e-3), 0, 0.7);
    try (TrainingGraph graph = new TrainingGraph(peer, new StepSettings(2, 1, AdamW.paper(0), 1.0), java.util.EnumSet.of(StepKind.PLAIN))) {
      // TensorFlow may still add a gather's gradient beside the requested ones (the rows read are
      // downstream of other differentiated parameters, the query's); unrequested, it must never run.
      Set<String> runs = ancestors(graph.graph().operation("update_plain/train"));
      assertTrue(runs.contains("layers/0/ff/u/read"), "the walk reaches the table's read");
      List<String> dense = denseTableSums(graph.graph(), Shape.of(64, 16)).stream().filter(runs::contains).toList();
      assertEquals(List.of(), dense, "dense [N, D] table gradients the training step runs");
    }
  }

  /** Every op the session runs to run {@code target}: its inputs and control inputs, transitively. */
  private static Set<String> ancestors(GraphOperation target) {
    Set<String> seen = new HashSet<>();
    java.util.ArrayDeque<GraphOperation> queue = new java.util.ArrayDeque<>(List.of(target));
    while (!queue.isEmpty()) {
      GraphOperation op = queue.pop();
      if (!seen.add(op.name())) {
        continue;
      }
      for (int i = 0; i < op.numInputs(); i++) {
        queue.push((GraphOperation) op.input(i).op());
      }
      queue.addAll(op.controlInputs());
    }
    return seen;
  }

  /** The UnsortedSegmentSum ops of {@code g} whose output has the table's shape, by name. */
  private static List<String> denseTableSums(Graph g, Shape table) {
    List<String> names = new java.util.ArrayList<>();
    for (Iterator<GraphOperation> ops = g.operations(); ops.hasNext(); ) {
      GraphOperation op = ops.next();
      if (op.type().equals("UnsortedSegmentSum") && op.output(0).shape().equals(table)) {
        names.add(op.name());
      }
    }
    return names;
  }
}
