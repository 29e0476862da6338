package io.switchhead.ops.moe;

import io.switchhead.ops.BatchMatmulV2;
import io.switchhead.ops.AttrRecord;
import io.switchhead.ops.control.CountedLoop;
import io.switchhead.ops.control.CountedLoop.Spec;
import io.switchhead.ops.gradients.GradientOverride;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * Backward of {@link SortedConditionalMatmul}, in the same block layout and the same loop over the
 * groups of blocks that the routing fills.
 *
 * <p>Why not TensorFlow's own gradient of the forward ops: it scatters three times (the gradient
 * of each gather is a segment sum, and XLA on the CPU runs every scatter as a serial loop), and it
 * differentiates the batched matmul with BatchMatMulV3, which the oneDNN rewrite skips. Replacing
 * it made the benchmark step much faster (docs/benchmarks/conditional-matmul.md, "How the design
 * got here"). Here:
 * <ul>
 *   <li>dGates[n, j] = dy[n, j] . ySlots[n, j] (ySlots saved ungated);
 *   <li>per group: dyGroup = the output gradient gathered into buffer order, times each row's gate
 *       (0 on padding rows, so padding contributes nothing below); dxGroup = dyGroup W_block^T,
 *       with W^T (transposed once) gathered per block: XLA on the CPU runs a batched matmul with a
 *       transposed operand far slower; dwGroup = dyGroup^T xGroup per block, the input rows
 *       gathered again rather than saved, added into their experts' sums of dW^T;
 *   <li>dx = the buffer's rows gathered back at padPos and summed over the k slots; dw = the
 *       transpose of the dW^T sums (transposing dyGroup is cheaper than transposing xGroup).
 * </ul>
 */
final class SortedMatmulGradient implements GradientOverride.NodeGradient {

  static final String NAME = "switchhead.SortedConditionalMatmul";

  /** The tagged node's inputs, in order. */
  enum Input {
    VALUE, X, W, GATES, Y_SLOTS, BUFFER_GATE, PAD_POS, PAIR_OF_ROW, SOURCE_ROW, BLOCK_EXPERT, USED_GROUPS
  }

  /**
   * Static sizes the gradient needs and its loop, carried in the node's config attribute; no loop
   * for a layout with one group, which runs without a loop op.
   */
  record Config(MatmulShapes shapes, int blockSize, int groupBlocks, boolean slots, Optional<CountedLoop.Definition> loop) {

    BlockLayout layout() {
      return new BlockLayout(shapes.pairs(), shapes.experts(), blockSize, groupBlocks);
    }

    AttrRecord toRecord() {
      return AttrRecord.builder()
          .putRecord("shapes", shapes.toRecord())
          .putInt("block", blockSize)
          .putInt("group", groupBlocks)
          .putBoolean("slots", slots)
          .putOptionalRecord("loop", loop.map(CountedLoop.Definition::toRecord))
          .build();
    }

    static Config fromRecord(AttrRecord r) {
      return new Config(
          MatmulShapes.fromRecord(r.record("shapes")),
          r.getInt("block"),
          r.getInt("group"),
          r.getBoolean("slots"),
          r.optionalRecord("loop").map(CountedLoop.Definition::fromRecord));
    }
  }

  /** The loop's invariant inputs, in order. */
  enum LoopInput {
    DY_SOURCE, DY_INDEX, ROW_GATE, X, W_TRANSPOSED, GROUP_SOURCES, GROUP_EXPERTS
  }

  /**
   * Defines the backward loop in the graph of {@code tf}; the forward calls this, because loops
   * cannot be defined inside a gradient ({@link CountedLoop}).
   */
  @SuppressWarnings("unchecked")
  static <T extends TFloating> CountedLoop.Definition defineLoop(
      Ops tf, MatmulShapes s, BlockLayout layout, boolean slots, Class<T> type) {
    List<Spec> carried =
        List.of(
            new Spec(type, Shape.of(layout.groups(), layout.groupRows(), s.dIn())), new Spec(type, Shape.of(s.experts(), s.dOut(), s.dIn())));
    return CountedLoop.define(
        tf,
        "sortedMatmulBackward",
        loopInvariantSpecs(s, layout, slots, type),
        carried,
        (ops, i, in, acc) -> {
          GroupGradients<T> group = groupGradients(ops, i, in, s, layout);
          return List.of(
              ops.tensorScatterNdUpdate(
                  (Operand<T>) acc.get(0), ops.reshape(i, ops.constant(new int[] {1, 1})), ops.expandDims(group.dx(), ops.constant(0))),
              ops.tensorScatterNdAdd((Operand<T>) acc.get(1), ops.expandDims(group.experts(), ops.constant(1)), group.dwTransposed()));
        });
  }

  /** The types and shapes of the loop's invariants, in the order of {@link LoopInput}. */
  static List<Spec> loopInvariantSpecs(MatmulShapes s, BlockLayout layout, boolean slots, Class<? extends TFloating> type) {
    int groups = layout.groups();
    int rows = layout.groupRows();
    return List.of(
        new Spec(type, Shape.of(slots ? s.pairs() : s.rows(), s.dOut())),
        new Spec(TInt32.class, Shape.of(groups, rows)),
        new Spec(type, Shape.of(groups, rows)),
        new Spec(type, Shape.of(s.rows(), s.dIn())),
        new Spec(type, Shape.of(s.experts(), s.dOut(), s.dIn())),
        new Spec(TInt32.class, Shape.of(groups, rows)),
        new Spec(TInt32.class, Shape.of(groups, layout.groupBlocks())));
  }

  /**
   * The loop's invariants, in the order of {@link LoopInput}: the output gradient's rows {@code
   * dySource}, read at {@code dyIndex} [P]; each buffer row's gate [P] (0 on padding); x; W^T [M,
   * dOut, dIn]; the row of x each buffer row reads [P]; each block's expert [P/B].
   */
  static <T extends TFloating> List<Operand<?>> loopInvariants(
      Ops tf,
      BlockLayout layout,
      Operand<T> dySource,
      Operand<TInt32> dyIndex,
      Operand<T> rowGate,
      Operand<T> x,
      Operand<T> wTransposed,
      Operand<TInt32> sourceRow,
      Operand<TInt32> blockExpert) {
    return List.of(
        dySource,
        Indices.byGroup(tf, dyIndex, layout),
        Indices.byGroup(tf, rowGate, layout),
        x,
        wTransposed,
        Indices.byGroup(tf, sourceRow, layout),
        Indices.byGroup(tf, blockExpert, layout));
  }

  /** One group's rows of the dx buffer, [G*B, dIn], its blocks' dW^T, [G, dOut, dIn], and their experts. */
  record GroupGradients<T extends TFloating>(Operand<T> dx, Operand<T> dwTransposed, Operand<TInt32> experts) {}

  /** The backward of group {@code i}; {@code in} in the order of {@link LoopInput}. */
  @SuppressWarnings("unchecked")
  static <T extends TFloating> GroupGradients<T> groupGradients(
      Ops ops, Operand<TInt32> i, List<Operand<?>> in, MatmulShapes s, BlockLayout layout) {
    int g = layout.groupBlocks();
    int b = layout.blockSize();
    Operand<TInt32> axis0 = ops.constant(0);
    Operand<TInt32> experts = Indices.groupRow(ops, (Operand<TInt32>) in.get(LoopInput.GROUP_EXPERTS.ordinal()), i); // [G]
    Operand<T> gate = ops.gather((Operand<T>) in.get(LoopInput.ROW_GATE.ordinal()), i, axis0); // [G*B]
    Operand<T> dyGroup =
        ops.reshape(
            ops.math.mul(
                ops.gather(
                    (Operand<T>) in.get(LoopInput.DY_SOURCE.ordinal()),
                    Indices.groupRow(ops, (Operand<TInt32>) in.get(LoopInput.DY_INDEX.ordinal()), i),
                    axis0),
                ops.expandDims(gate, ops.constant(-1))),
            ops.constant(new int[] {g, b, s.dOut()})); // [G, B, dOut]
    Operand<T> wTransposed = ops.gather((Operand<T>) in.get(LoopInput.W_TRANSPOSED.ordinal()), experts, axis0); // [G, dOut, dIn]
    Operand<T> dx = ops.reshape(BatchMatmulV2.of(ops, dyGroup, wTransposed, false, false), ops.constant(new int[] {layout.groupRows(), s.dIn()}));
    Operand<T> xGroup =
        ops.reshape(
            ops.gather(
                (Operand<T>) in.get(LoopInput.X.ordinal()),
                Indices.groupRow(ops, (Operand<TInt32>) in.get(LoopInput.GROUP_SOURCES.ordinal()), i),
                axis0),
            ops.constant(new int[] {g, b, s.dIn()})); // [G, B, dIn]
    Operand<T> dwTransposed = BatchMatmulV2.of(ops, dyGroup, xGroup, true, false); // [G, dOut, dIn]
    return new GroupGradients<>(dx, dwTransposed, experts);
  }

  @Override
  public List<Operand<?>> inputGradients(
      Ops tf, GraphOperation node, List<Output<?>> outputGradients, String config) {
    return gradients(tf.withSubScope("sortedMatmulGrad"), node, outputGradients, Config.fromRecord(AttrRecord.decode(NAME + " config", config)));
  }

  @SuppressWarnings("unchecked")
  private static <T extends TFloating> List<Operand<?>> gradients(
      Ops tf, GraphOperation node, List<Output<?>> outputGradients, Config c) {
    MatmulShapes s = c.shapes();
    BlockLayout layout = c.layout();
    Operand<T> dy = (Operand<T>) outputGradients.get(Input.VALUE.ordinal()); // [N, dOut] or [N, k, dOut]
    Operand<T> x = (Operand<T>) TaggedGradients.input(node, Input.X);
    Operand<T> ySlots = (Operand<T>) TaggedGradients.input(node, Input.Y_SLOTS); // [N, k, dOut]
    Operand<TInt32> padPos = (Operand<TInt32>) TaggedGradients.input(node, Input.PAD_POS); // [N, k]
    Operand<TInt32> axis0 = tf.constant(0);

    Operand<T> dySlots = c.slots() ? dy : tf.expandDims(dy, tf.constant(1)); // [N, k or 1, dOut]
    Operand<T> dGates = tf.reduceSum(tf.math.mul(ySlots, dySlots), tf.constant(-1)); // [N, k]

    // Each buffer row's output gradient: slot outputs are indexed by pair, the summed output by row.
    Operand<T> dySource = c.slots() ? tf.reshape(dy, tf.constant(new int[] {s.pairs(), s.dOut()})) : dy;
    Operand<TInt32> dyIndex = (Operand<TInt32>) TaggedGradients.input(node, c.slots() ? Input.PAIR_OF_ROW : Input.SOURCE_ROW); // [P]
    List<Operand<?>> invariants =
        loopInvariants(
            tf,
            layout,
            dySource,
            dyIndex,
            (Operand<T>) TaggedGradients.input(node, Input.BUFFER_GATE),
            x,
            tf.linalg.transpose((Operand<T>) TaggedGradients.input(node, Input.W), tf.constant(new int[] {0, 2, 1})),
            (Operand<TInt32>) TaggedGradients.input(node, Input.SOURCE_ROW),
            (Operand<TInt32>) TaggedGradients.input(node, Input.BLOCK_EXPERT));
    Operand<T> dxBuffer; // [P, dIn]
    Operand<T> dwTransposedSums; // [M, dOut, dIn]
    if (c.loop().isEmpty()) {
      // One group: no loop op (see SortedConditionalMatmul).
      GroupGradients<T> group = groupGradients(tf, tf.constant(0), invariants, s, layout);
      dxBuffer = group.dx();
      dwTransposedSums = tf.math.unsortedSegmentSum(group.dwTransposed(), group.experts(), tf.constant(s.experts()));
    } else {
      List<Operand<?>> initial =
          List.of(
              tf.zeros(tf.constant(new int[] {layout.groups(), layout.groupRows(), s.dIn()}), x.type()),
              tf.zeros(tf.constant(new int[] {s.experts(), s.dOut(), s.dIn()}), x.type()));
      List<Output<?>> sums =
          CountedLoop.call(tf, c.loop().get(), (Operand<TInt32>) TaggedGradients.input(node, Input.USED_GROUPS), layout.groups(), invariants, initial);
      dxBuffer = tf.reshape((Operand<T>) sums.get(0), tf.constant(new int[] {layout.paddedRows(), s.dIn()}));
      dwTransposedSums = (Operand<T>) sums.get(1);
    }
    // dx[n] = the sum over slots j of the buffer row of pair (n, j): one gather per slot, added,
    // which XLA fuses into one pass over dx. (Gathering all slots as [k, N, dIn] and reducing
    // writes and reads that array once more, and was slower: docs/benchmarks/conditional-matmul.md.)
    List<Operand<T>> perSlot = new ArrayList<>();
    for (int j = 0; j < s.k(); j++) {
      perSlot.add(tf.gather(dxBuffer, tf.gather(padPos, tf.constant(j), tf.constant(1)), axis0)); // [N, dIn]
    }
    Operand<T> dx = perSlot.size() == 1 ? perSlot.get(0) : tf.math.addN(perSlot);
    Operand<T> dw = tf.linalg.transpose(dwTransposedSums, tf.constant(new int[] {0, 2, 1})); // [M, dIn, dOut]

    return TaggedGradients.of(Input.values(), Input.X, dx, Input.W, dw, Input.GATES, dGates);
  }
}
