package io.switchhead.ops.moe;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.ops.gradients.GradientOverride;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * Backward of {@link SortedConditionalMatmul}, in the same block layout as its forward.
 *
 * <p>Why not TensorFlow's own gradient of the forward ops: it scatters three times (the gradient
 * of each gather is a segment sum, and XLA on the CPU runs every scatter as a serial loop), and it
 * differentiates the batched matmul with BatchMatMulV3, which the oneDNN rewrite skips. Replacing
 * it took the benchmark step from 45-52 to 28 ms at M = 4 and from 65-80 to 40 ms at M = 64 (2 cores,
 * plain graph; docs/benchmarks/conditional-matmul.md). Here:
 * <ul>
 *   <li>dGates[n, j] = dy[n, j] . ySlots[n, j] (ySlots saved ungated);
 *   <li>dyBuffer = the output gradient gathered into buffer order, times each row's gate (0 on
 *       padding rows, so padding contributes nothing below);
 *   <li>dx = sum over the k slots of (dyBuffer W_block^T) gathered back at padPos, with W^T gathered
 *       per block (cheaper under XLA than a transposed batched matmul);
 *   <li>dw = per-block xBlock^T dyBuffer, summed over each expert's blocks (the one segment sum).
 * </ul>
 */
final class SortedMatmulGradient implements GradientOverride.NodeGradient {

  static final String NAME = "switchhead.SortedConditionalMatmul";

  /** The tagged node's inputs, in order. */
  enum Input {
    VALUE, X, W, GATES, X_BLOCKS, Y_SLOTS, BUFFER_GATE, PAD_POS, PAIR_OF_ROW, SOURCE_ROW, BLOCK_EXPERT
  }

  /** Static sizes the gradient needs, carried in the node's config attribute. */
  record Config(MatmulShapes shapes, int blockSize, boolean slots) {

    String encode() {
      return String.format(
          "rows=%d,dIn=%d,dOut=%d,experts=%d,k=%d,block=%d,slots=%b",
          shapes.rows(), shapes.dIn(), shapes.dOut(), shapes.experts(), shapes.k(), blockSize, slots);
    }

    static Config decode(String encoded) {
      Map<String, String> fields = new LinkedHashMap<>();
      for (String field : encoded.split(",")) {
        String[] kv = field.split("=", 2);
        checkArgument(kv.length == 2, "bad field %s in sorted matmul config %s", field, encoded);
        fields.put(kv[0], kv[1]);
      }
      checkArgument(
          fields.keySet().equals(Set.of("rows", "dIn", "dOut", "experts", "k", "block", "slots")),
          "sorted matmul config must have rows, dIn, dOut, experts, k, block, slots, got %s",
          encoded);
      return new Config(
          new MatmulShapes(
              Integer.parseInt(fields.get("rows")),
              Integer.parseInt(fields.get("dIn")),
              Integer.parseInt(fields.get("dOut")),
              Integer.parseInt(fields.get("experts")),
              Integer.parseInt(fields.get("k"))),
          Integer.parseInt(fields.get("block")),
          Boolean.parseBoolean(fields.get("slots")));
    }
  }

  @Override
  public List<Operand<?>> inputGradients(
      Ops tf, GraphOperation node, List<Output<?>> outputGradients, String config) {
    return gradients(tf.withSubScope("sortedMatmulGrad"), node, outputGradients, Config.decode(config));
  }

  @SuppressWarnings("unchecked")
  private static <T extends TFloating> List<Operand<?>> gradients(
      Ops tf, GraphOperation node, List<Output<?>> outputGradients, Config c) {
    MatmulShapes s = c.shapes();
    BlockLayout layout = BlockLayout.of(s, c.blockSize());
    Operand<T> dy = (Operand<T>) outputGradients.get(Input.VALUE.ordinal()); // [N, dOut] or [N, k, dOut]
    Operand<T> ySlots = (Operand<T>) input(node, Input.Y_SLOTS); // [N, k, dOut]
    Operand<T> xBlocks = (Operand<T>) input(node, Input.X_BLOCKS); // [P/B, B, dIn]
    Operand<T> bufferGate = (Operand<T>) input(node, Input.BUFFER_GATE); // [P]
    Operand<TInt32> padPos = (Operand<TInt32>) input(node, Input.PAD_POS); // [N, k]
    Operand<TInt32> blockExpert = (Operand<TInt32>) input(node, Input.BLOCK_EXPERT); // [P/B]
    Operand<TInt32> axis0 = tf.constant(0);

    Operand<T> dySlots = c.slots() ? dy : tf.expandDims(dy, tf.constant(1)); // [N, k or 1, dOut]
    Operand<T> dGates = tf.reduceSum(tf.math.mul(ySlots, dySlots), tf.constant(-1)); // [N, k]

    // Each buffer row's output gradient: slot outputs are indexed by pair, the summed output by row.
    Operand<T> dyRows =
        c.slots()
            ? tf.gather(
                tf.reshape(dy, tf.constant(new int[] {s.pairs(), s.dOut()})),
                (Operand<TInt32>) input(node, Input.PAIR_OF_ROW),
                axis0)
            : tf.gather(dy, (Operand<TInt32>) input(node, Input.SOURCE_ROW), axis0); // [P, dOut]
    Operand<T> dyBuffer =
        tf.reshape(
            tf.math.mul(dyRows, tf.expandDims(bufferGate, tf.constant(-1))),
            tf.constant(new int[] {layout.blocks(), layout.blockSize(), s.dOut()})); // [P/B, B, dOut]

    // W^T gathered per block rather than a batched matmul with a transposed operand: XLA on the CPU
    // copies the transpose of every block's gathered W (84 MB at M = 64, B = 64), while transposing
    // W itself first costs M weight matrices; under XLA the step at M = 64 went from 72 to 62 ms.
    Operand<T> wTransposedBlocks =
        tf.gather(
            tf.linalg.transpose((Operand<T>) input(node, Input.W), tf.constant(new int[] {0, 2, 1})),
            blockExpert,
            axis0); // [P/B, dOut, dIn]
    Operand<T> dxBuffer =
        tf.reshape(
            BatchMatmulV2.of(tf, dyBuffer, wTransposedBlocks, false, false),
            tf.constant(new int[] {layout.paddedRows(), s.dIn()})); // [P, dIn]
    // Slot-major gather, summed over the leading axis: Eigen sums a middle axis several times slower.
    Operand<TInt32> padPosBySlot = tf.linalg.transpose(padPos, tf.constant(new int[] {1, 0})); // [k, N]
    Operand<T> dx = tf.reduceSum(tf.gather(dxBuffer, padPosBySlot, axis0), axis0); // [N, dIn]

    Operand<T> dwBlocks = BatchMatmulV2.of(tf, xBlocks, dyBuffer, true, false); // [P/B, dIn, dOut]
    Operand<T> dw = tf.math.unsortedSegmentSum(dwBlocks, blockExpert, tf.constant(s.experts())); // [M, dIn, dOut]

    List<Operand<?>> grads = new ArrayList<>(Collections.nCopies(Input.values().length, null));
    grads.set(Input.X.ordinal(), dx);
    grads.set(Input.W.ordinal(), dw);
    grads.set(Input.GATES.ordinal(), dGates);
    return grads;
  }

  private static Operand<?> input(GraphOperation node, Input which) {
    return node.input(which.ordinal());
  }
}
