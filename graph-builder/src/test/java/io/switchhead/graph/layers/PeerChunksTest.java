package io.switchhead.graph.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.ModelDims;
import io.switchhead.graph.config.PeerConfig;
import io.switchhead.graph.config.PeerConfig.Activation;
import io.switchhead.graph.params.ParamSpec;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.gradients.Gradients;
import io.switchhead.testing.Seeded;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat64;

/**
 * PEER's chunks of tokens: the chunked layer computes what the whole-batch one does, forward and
 * backward, and its tables stay read by rows (one piece per chunk), so their gradient stays sparse.
 */
class PeerChunksTest {

  private static final int B = 2;
  private static final int T = 5;
  private static final int D = 3;
  /** Dropout on: in training its mask, drawn for the whole batch, must not change with the chunks. */
  private static final ModelDims DIMS = new ModelDims(D, 1, 0.3);
  private static final PeerConfig PEER = new PeerConfig(16, 2, 3, 4, Activation.GELU, 0.9, 1e-3);
  private static final long BYTES_PER_TOKEN = (long) PEER.heads() * PEER.k() * D * Double.BYTES;
  private static final String[] TABLES = {"layer/u", "layer/v"};

  @Seeded private Random random;

  @Test
  void chunksHoldAsManyTokensAsTheBoundAllowsTheLastRagged() {
    Shape x = Shape.of(B, T, D);
    assertEquals(List.of(10), PeerFeedForward.chunkSizes(PEER, x, Double.BYTES, Long.MAX_VALUE));
    assertEquals(List.of(4, 4, 2), PeerFeedForward.chunkSizes(PEER, x, Double.BYTES, 4 * BYTES_PER_TOKEN + BYTES_PER_TOKEN - 1));
    assertEquals(List.of(1, 1, 1, 1, 1, 1, 1, 1, 1, 1), PeerFeedForward.chunkSizes(PEER, x, Double.BYTES, 1));
    assertEquals(List.of(-1), PeerFeedForward.chunkSizes(PEER, Shape.of(-1, T, D), Double.BYTES, 1), "a dynamic batch is one chunk");
    // peer-1m-tiny's batches: 16 x 128 tokens of h 4, k 8, D 128 in float32 are 4 chunks of 512.
    assertEquals(List.of(512, 512, 512, 512), PeerFeedForward.chunkSizes(new PeerConfig(1 << 20, 4, 8, 32, Activation.GELU, 0.99, 1e-3),
        Shape.of(16, 128, 128), Float.BYTES, io.switchhead.ops.moe.MoeTuning.PEER_GATHERED_ROWS_MAX_BYTES));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PeerFeedForward.chunkSizes(PEER, x, Double.BYTES, 0));
    assertTrue(e.getMessage().contains("chunk bound (0 bytes) must be positive"), e.getMessage());
  }

  /** What a run of the layer gives: the output, the gradients of sum(y * r) by path ("x" for x), per table its read. */
  private record Run(double[] y, Map<String, double[]> gradients, Map<String, Read> reads) {}

  /** A table's read: the ids [M], the gradient of the rows read [M, D] (pieces joined), the pieces' count. */
  private record Read(int[] ids, double[] rowGradients, int pieces) {}

  private static Run run(boolean training, long chunkBytes, double[] x, double[] r, Map<String, double[]> values, Map<String, Shape> shapes) {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      ParamStore store = LayerHarness.constants(tf, values, shapes);
      LayerContext ctx = training ? LayerContext.train(tf, tf.constant(new long[] {5, 9})) : LayerContext.eval(tf);
      Operand<TFloat64> input = tf.constant(Shape.of(B, T, D), DataBuffers.of(x));
      Operand<TFloat64> y = PeerFeedForward.apply(PEER, DIMS, store.root().child("layer"), ctx, input, chunkBytes).output();
      Operand<TFloat64> loss = tf.reduceSum(tf.math.mul(y, tf.constant(Shape.of(B, T, D), DataBuffers.of(r))), tf.constant(new int[] {0, 1, 2}));
      // The input, every parameter (the tables by their values: TensorFlow's dense gradient), then each table's pieces.
      List<String> names = new ArrayList<>(List.of("x"));
      List<Operand<?>> xs = new ArrayList<>(List.of(input));
      store.params().forEach(p -> {
        names.add(p.spec().path());
        xs.add(p.value());
      });
      Map<String, ParamStore.RowRead> reads = store.rowReads();
      for (String table : TABLES) {
        xs.addAll(reads.get(table).rows());
      }
      List<Operand<?>> grads = Gradients.of(tf, loss, xs);
      Session.Runner runner = s.runner().fetch(y);
      grads.forEach(runner::fetch);
      for (String table : TABLES) {
        runner.fetch(reads.get(table).ids());
      }
      try (Result res = runner.run()) {
        Map<String, double[]> gradients = new HashMap<>();
        for (int i = 0; i < names.size(); i++) {
          gradients.put(names.get(i), Tensors.toDoubles(res.get(1 + i)));
        }
        Map<String, Read> tableReads = new HashMap<>();
        int next = 1 + names.size();
        for (int t = 0; t < TABLES.length; t++) {
          int pieces = reads.get(TABLES[t]).rows().size();
          List<Double> rows = new ArrayList<>();
          for (int i = 0; i < pieces; i++) {
            for (double v : Tensors.toDoubles(res.get(next++))) {
              rows.add(v);
            }
          }
          tableReads.put(TABLES[t], new Read(Tensors.toInts(res.get(1 + grads.size() + t)),
              rows.stream().mapToDouble(Double::doubleValue).toArray(), pieces));
        }
        return new Run(Tensors.toDoubles(res.get(0)), gradients, tableReads);
      }
    }
  }

  private void chunkedEqualsWhole(boolean training) {
    List<ParamSpec> specs = LayerHarness.specs((p, ctx, in) -> PeerFeedForward.apply(PEER, DIMS, p, ctx, in).output(), Shape.of(B, T, D));
    List<ParamSpec> buffers = LayerHarness.bufferSpecs((p, ctx, in) -> PeerFeedForward.apply(PEER, DIMS, p, ctx, in).output(), Shape.of(B, T, D));
    Map<String, double[]> values = new HashMap<>();
    Map<String, Shape> shapes = new HashMap<>();
    for (ParamSpec spec : specs) {
      values.put(spec.path(), random.doubles(spec.size()).map(u -> 2 * u - 1).toArray());
      shapes.put(spec.path(), spec.shape());
    }
    for (ParamSpec spec : buffers) {
      values.put(spec.path(), random.doubles(spec.size()).map(u -> 0.5 + u).toArray());
      shapes.put(spec.path(), spec.shape());
    }
    double[] x = random.doubles(B * T * D).map(u -> 2 * u - 1).toArray();
    double[] r = random.doubles(B * T * D).map(u -> 2 * u - 1).toArray();
    Run whole = run(training, Long.MAX_VALUE, x, r, values, shapes);
    for (String table : TABLES) {
      assertEquals(1, whole.reads().get(table).pieces(), table + " read at once");
    }
    // Chunks of 4 tokens (4 + 4 + 2) and of 1: ten pieces.
    for (long chunkBytes : new long[] {4 * BYTES_PER_TOKEN, BYTES_PER_TOKEN}) {
      Run chunked = run(training, chunkBytes, x, r, values, shapes);
      String what = (training ? "training" : "evaluation") + ", chunks of " + PeerFeedForward.chunkSizes(PEER, Shape.of(B, T, D), Double.BYTES, chunkBytes);
      assertArrayEquals(whole.y(), chunked.y(), 1e-12, what + ": output");
      whole.gradients().forEach((path, expected) -> assertArrayEquals(expected, chunked.gradients().get(path), 1e-12, what + ": gradient of " + path));
      for (String table : TABLES) {
        Read expected = whole.reads().get(table);
        Read actual = chunked.reads().get(table);
        assertEquals(chunkBytes == BYTES_PER_TOKEN ? 10 : 3, actual.pieces(), what + ": " + table + "'s pieces, one per chunk");
        assertArrayEquals(expected.ids(), actual.ids(), what + ": " + table + "'s rows read, in token order");
        assertArrayEquals(expected.rowGradients(), actual.rowGradients(), 1e-12, what + ": gradient of " + table + "'s rows read");
        // The rows' gradient summed into the table is TensorFlow's dense gradient: the sparse one loses nothing.
        double[] scattered = new double[PEER.experts() * D];
        for (int m = 0; m < actual.ids().length; m++) {
          for (int j = 0; j < D; j++) {
            scattered[actual.ids()[m] * D + j] += actual.rowGradients()[m * D + j];
          }
        }
        assertArrayEquals(chunked.gradients().get(table), scattered, 1e-12, what + ": " + table + "'s rows' gradient scattered");
      }
    }
  }

  @Test
  void chunkedEqualsTheWholeBatchInTraining() {
    chunkedEqualsWhole(true);
  }

  @Test
  void chunkedEqualsTheWholeBatchInEvaluation() {
    chunkedEqualsWhole(false);
  }
}
