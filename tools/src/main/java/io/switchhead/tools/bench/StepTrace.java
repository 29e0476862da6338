package io.switchhead.tools.bench;

import com.google.common.collect.ImmutableMap;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.IntStream;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.AllocationDescription;
import org.tensorflow.proto.AllocatorMemoryUsed;
import org.tensorflow.proto.NodeExecStats;
import org.tensorflow.proto.NodeOutput;
import org.tensorflow.proto.RunMetadata;
import org.tensorflow.proto.TensorShapeProto;

/**
 * What TensorFlow's step stats of one traced training step say about it: the multiply-accumulates
 * its matmul nodes executed (each node's traced output shape times its contraction length), and the
 * bytes its allocators held.
 *
 * <p>Memory is sampled where TensorFlow records it, at the end of each node: the bytes in use then,
 * less what the node still holds, plus the node's own peak, bound the bytes in use while it ran. An
 * XLA cluster is one node, so its temporary buffers count through that node's peak. On CPU the
 * allocator is oneDNN's, whose bytes in use count allocations of 256 KiB and up: smaller tensors
 * come from a pool it does not report, so the figures are a lower bound, close for models whose
 * activations are large and loose for tiny ones.
 *
 * @param matmulMacs MACs of the executed MatMul and BatchMatMul nodes; 0 for a step XLA compiled
 *     whole (its matmuls are inside the cluster)
 * @param matmulNodes how many matmul executions were counted (loop bodies count per trip)
 * @param memory empty where the trace recorded no allocator memory (TensorFlow leaves it out in
 *     some processes; the tables then say so rather than show a zero)
 * @param micros the time the step's nodes ran, summed by the part of the model they belong to
 *     ({@link #partOf}, the backward pass's apart) and the graph's op type (a rewritten node,
 *     oneDNN's {@code _MklMatMul} say, counts as the op it rewrote), most first: where a step's
 *     time goes. Nodes run side by side on the cores, so the sum exceeds the step's time.
 * @param macsByPart {@link #matmulMacs} by the part of the model, as {@link #micros} counts them
 * @param keptBytes the tensors the forward pass made that its backward pass reads: their bytes by
 *     what made them, most first, each buffer counted once however many views read it. Empty
 *     without forward ops
 * @param overlap how many nodes ran at once over the step's span
 */
public record StepTrace(long matmulMacs, int matmulNodes, Optional<Memory> memory, ImmutableMap<StepTrace.Maker, Long> micros,
    ImmutableMap<String, Long> macsByPart, ImmutableMap<StepTrace.Maker, Long> keptBytes, NodeOverlap overlap) {

  /** What made a forward tensor: the part of the model ({@link StepTrace#part}) and the op type. */
  public record Maker(String part, String opType) {
    @Override
    public String toString() {
      return part + ": " + opType;
    }
  }

  /**
   * What the allocators held. The counts are allocator-wide: what other sessions of the process
   * hold is resident too, and only what rose above it belongs to this step. A node may record more
   * than one allocator (oneDNN's and the plain CPU one); each is bounded on its own and the bounds
   * summed, since one allocator's bytes in use say nothing of another's.
   *
   * @param residentBytes the fewest bytes in use before any node: the variables (weights, optimizer
   *     slots, buffers, XL memory) and the fed inputs, which outlive the step
   * @param peakBytes the most bytes in use while any node ran (summed over the allocators, each
   *     at its own most)
   * @param forwardPeakBytes the most bytes in use while a node of the forward pass ran: above
   *     {@code residentBytes}, the activations the forward pass keeps for the backward one (and
   *     its own passing temporaries), before any gradient or update is allocated
   */
  public record Memory(long residentBytes, long peakBytes, long forwardPeakBytes) {
    Memory plus(Memory other) {
      return new Memory(residentBytes + other.residentBytes, peakBytes + other.peakBytes, forwardPeakBytes + other.forwardPeakBytes);
    }
  }

  /** The name scope TensorFlow builds gradient ops in. */
  private static final String GRADIENTS = "gradients/";

  private static final String BACKWARD = " backward";

  private static final Set<String> PARAMETERS = Set.of("VariableV2", "VarHandleOp", "ReadVariableOp");

  /** Op types whose outputs outlive a step. */
  private static final Set<String> NOT_ACTIVATIONS = Set.of("VariableV2", "VarHandleOp", "Const", "Placeholder", "_Arg");

  /**
   * Reads the step stats of {@code metadata}, looking the matmul nodes up in {@code graph}.
   *
   * @param passes the step's forward and backward ops: the forward nodes bound {@link
   *     Memory#forwardPeakBytes}, and a forward tensor a backward node reads is {@link #keptBytes kept}
   */
  static StepTrace of(RunMetadata metadata, Graph graph, StepPasses passes) {
    Set<String> forwardOps = passes.forward();
    List<NodeExecStats> nodes = metadata.getStepStats().getDevStatsList().stream()
        .flatMap(d -> d.getNodeStatsList().stream())
        .sorted(Comparator.comparingLong(NodeExecStats::getAllStartMicros))
        .toList();
    Map<String, NodeExecStats> byName = new HashMap<>();
    nodes.forEach(n -> byName.put(n.getNodeName(), n));
    long macs = 0;
    int matmuls = 0;
    Map<String, Memory> byAllocator = new HashMap<>();
    Map<Maker, Long> micros = new HashMap<>();
    Map<String, String> parts = new HashMap<>();
    Map<String, Long> partMacs = new HashMap<>();
    for (NodeExecStats node : nodes) {
      String part = partOf(node.getNodeName(), graph, parts);
      micros.merge(new Maker(part, opType(node, graph)), node.getOpEndRelMicros() - node.getOpStartRelMicros(), Long::sum);
      long nodeMacs = executedMacs(node, graph, byName);
      if (nodeMacs > 0) {
        macs += nodeMacs;
        matmuls++;
        partMacs.merge(part, nodeMacs, Long::sum);
      }
      for (AllocatorMemoryUsed m : node.getMemoryList()) {
        // The node's live bytes count every allocation it made, the allocator's bytes in use only
        // those of 256 KiB and up: a node of small tensors holds more than the count rose by.
        long before = Math.max(0, m.getAllocatorBytesInUse() - m.getLiveBytes());
        long most = Math.max(before + m.getPeakBytes(), m.getAllocatorBytesInUse());
        Memory seen = new Memory(before, most, forwardOps.contains(node.getNodeName()) ? most : 0);
        byAllocator.merge(m.getAllocatorName(), seen, (a, b) -> new Memory(Math.min(a.residentBytes(), b.residentBytes()),
            Math.max(a.peakBytes(), b.peakBytes()), Math.max(a.forwardPeakBytes(), b.forwardPeakBytes())));
      }
    }
    Optional<Memory> memory = byAllocator.values().stream().reduce(Memory::plus);
    NodeOverlap overlap = NodeOverlap.of(nodes.stream()
        .map(n -> new NodeOverlap.Run(n.getAllStartMicros() + n.getOpStartRelMicros(), n.getAllStartMicros() + n.getOpEndRelMicros())).toList());
    return new StepTrace(macs, matmuls, memory, mostFirst(micros), mostFirst(partMacs), mostFirst(kept(nodes, graph, passes)), overlap);
  }

  /** {@link #micros} summed over the parts: the step's node time by op type, most first. */
  public ImmutableMap<String, Long> microsByOpType() {
    return sumBy(micros, Maker::opType);
  }

  /** Values by maker (time, bytes) summed by one side of the maker (its part, its op type), most first. */
  static ImmutableMap<String, Long> sumBy(Map<Maker, Long> values, Function<Maker, String> key) {
    Map<String, Long> sums = new HashMap<>();
    values.forEach((maker, value) -> sums.merge(key.apply(maker), value, Long::sum));
    return mostFirst(sums);
  }

  private static <K> ImmutableMap<K, Long> mostFirst(Map<K, Long> values) {
    ImmutableMap.Builder<K, Long> sorted = ImmutableMap.builder();
    values.entrySet().stream().sorted(Map.Entry.<K, Long>comparingByValue().reversed()).forEach(e -> sorted.put(e.getKey(), e.getValue()));
    return sorted.buildOrThrow();
  }

  /** The bytes of the forward outputs that a backward op reads, by {@link #part} and op type. */
  private static Map<Maker, Long> kept(List<NodeExecStats> nodes, Graph graph, StepPasses passes) {
    Set<String> forwardOps = passes.forward();
    Map<Maker, Long> kept = new HashMap<>();
    // Variables, constants and fed inputs outlive the step: their buffers, and views of them
    // (a parameter's read), are not the forward pass's.
    Set<Long> buffers = new HashSet<>();
    for (NodeExecStats node : nodes) {
      GraphOperation op = graph.operation(node.getNodeName());
      if (op != null && NOT_ACTIVATIONS.contains(op.type())) {
        node.getOutputList().forEach(out -> buffers.add(out.getTensorDescription().getAllocationDescription().getPtr()));
      }
    }
    for (NodeExecStats node : nodes) {
      GraphOperation op = graph.operation(node.getNodeName());
      if (op == null || !forwardOps.contains(op.name()) || NOT_ACTIVATIONS.contains(op.type())) {
        continue;
      }
      for (NodeOutput out : node.getOutputList()) {
        if (out.getSlot() >= op.numOutputs() || !readByBackward(op, out.getSlot(), passes.backward())) {
          continue;
        }
        AllocationDescription allocation = out.getTensorDescription().getAllocationDescription();
        // A view (Reshape, Identity) shares its input's buffer: count each buffer once.
        if (allocation.getPtr() != 0 && !buffers.add(allocation.getPtr())) {
          continue;
        }
        kept.merge(new Maker(part(op.name()), op.type()), allocation.getRequestedBytes(), Long::sum);
      }
    }
    return kept;
  }

  private static boolean readByBackward(GraphOperation op, int slot, Set<String> backwardOps) {
    return op.consumers(slot).stream().anyMatch(c -> backwardOps.contains(c.name()));
  }

  /**
   * The part of the model an op belongs to, from its path: a block's sub-layer ("attention",
   * "ff", "attention_norm"), "residual" for a block's own ops, else the path's first name
   * ("embedding", "final_norm"), and "loss" for the ops at the graph's root.
   */
  static String part(String opName) {
    String[] names = opName.split("/");
    if (names.length >= 2 && names[0].equals("layers")) {
      return names.length >= 4 ? names[2] : "residual";
    }
    return names.length >= 2 ? names[0] : "loss";
  }

  /**
   * {@link #part} of a forward op. A gradient op's is marked "backward" and found through what it
   * reads, as TensorFlow names every gradient op {@code gradients/Type_n}, whatever it
   * differentiates: the part of a parameter it reads (an input's gradient reads the weights it
   * came through); else of a forward op reading a parameter and one of the forward tensors it
   * reads (a weight's gradient reads the matmul's input, which the matmul read with the weight);
   * else of the first forward tensor it reads, a constant aside; else of the first gradient it
   * reads. Of the forward tensors, only the first that is not a constant is looked at. Memoised in {@code parts}: a gradient chain runs through the whole model.
   */
  static String partOf(String opName, Graph graph, Map<String, String> parts) {
    GraphOperation root = graph.operation(opName);
    if (!opName.startsWith(GRADIENTS) || root == null) { // a runtime's own node (_retval, say) is not the graph's
      return part(opName);
    }
    Deque<GraphOperation> pending = new ArrayDeque<>();
    pending.push(root);
    while (!pending.isEmpty()) {
      GraphOperation op = pending.peek();
      if (parts.containsKey(op.name())) {
        pending.pop();
        continue;
      }
      String found = null;
      String forward = null;
      GraphOperation gradient = null;
      for (int i = 0; i < op.numInputs() && found == null; i++) {
        GraphOperation input = (GraphOperation) op.input(i).op();
        if (input.name().startsWith(GRADIENTS)) {
          gradient = gradient == null ? input : gradient;
        } else if (isParameter(input)) {
          found = part(input.name());
        } else if (forward == null && !input.type().equals("Const")) {
          forward = weightedReader(input, op.input(i).index()).orElse(part(input.name()));
        }
      }
      found = found != null ? found : forward;
      if (found == null && gradient != null && !parts.containsKey(gradient.name())) {
        pending.push(gradient); // its part first
        continue;
      }
      parts.put(op.name(), found != null ? found + BACKWARD : gradient != null ? parts.get(gradient.name()) : "loss" + BACKWARD);
      pending.pop();
    }
    return parts.get(opName);
  }

  /** The part of a forward op that reads output {@code slot} of {@code op} and a parameter. */
  private static Optional<String> weightedReader(GraphOperation op, int slot) {
    return op.consumers(slot).stream()
        .filter(c -> !c.name().startsWith(GRADIENTS))
        .filter(c -> IntStream.range(0, c.numInputs()).anyMatch(i -> isParameter((GraphOperation) c.input(i).op())))
        .map(c -> part(c.name()))
        .findFirst();
  }

  /** A variable, or a read of one. */
  private static boolean isParameter(GraphOperation op) {
    return PARAMETERS.contains(op.type())
        || op.type().equals("Identity") && op.numInputs() == 1 && PARAMETERS.contains(((GraphOperation) op.input(0).op()).type());
  }

  /** The graph's type of the node's op, else the type in its timeline label ("name = Type(inputs)"). */
  private static String opType(NodeExecStats node, Graph graph) {
    GraphOperation op = graph.operation(node.getNodeName());
    if (op != null) {
      return op.type();
    }
    String label = node.getTimelineLabel();
    int eq = label.indexOf(" = ");
    int paren = label.indexOf('(', Math.max(eq, 0));
    return eq >= 0 && paren > eq ? label.substring(eq + 3, paren) : node.getNodeName();
  }

  /** MACs of one executed node: 0 unless it is a matmul of the graph. */
  private static long executedMacs(NodeExecStats node, Graph graph, Map<String, NodeExecStats> byName) {
    GraphOperation op = graph.operation(node.getNodeName());
    if (op == null || node.getOutputCount() == 0) {
      return 0;
    }
    String type = op.type();
    boolean matMul = type.equals("MatMul");
    if (!matMul && !type.equals("BatchMatMulV2") && !type.equals("BatchMatMulV3")) {
      return 0;
    }
    TensorShapeProto out = node.getOutput(0).getTensorDescription().getShape();
    long product = 1;
    for (TensorShapeProto.Dim d : out.getDimList()) {
      product *= d.getSize();
    }
    long inner = contraction(op, matMul, byName);
    if (inner < 0) {
      throw new IllegalStateException("matmul " + op.name() + " contracts over a length neither its build nor the trace knows");
    }
    return product * inner;
  }

  /**
   * The length a matmul contracts over: from either operand's static shape, or where the build did
   * not know it (an expert's rows in a weight gradient, sized by the routing), from the traced
   * output of the node that produced an operand.
   */
  private static long contraction(GraphOperation op, boolean matMul, Map<String, NodeExecStats> byName) {
    Output<?> left = op.input(0);
    Output<?> right = op.input(1);
    boolean transposeLeft = matMul ? op.attributes().getAttrBool("transpose_a") : op.attributes().getAttrBool("adj_x");
    boolean transposeRight = matMul ? op.attributes().getAttrBool("transpose_b") : op.attributes().getAttrBool("adj_y");
    int leftAxis = left.shape().numDimensions() - (transposeLeft ? 2 : 1);
    int rightAxis = right.shape().numDimensions() - (transposeRight ? 1 : 2);
    if (left.shape().get(leftAxis) >= 0) {
      return left.shape().get(leftAxis);
    }
    if (right.shape().get(rightAxis) >= 0) {
      return right.shape().get(rightAxis);
    }
    long traced = tracedSize(left, leftAxis, byName);
    return traced >= 0 ? traced : tracedSize(right, rightAxis, byName);
  }

  /** The traced size of an operand's axis, or -1 where its producer left no trace (a fed placeholder). */
  private static long tracedSize(Output<?> operand, int axis, Map<String, NodeExecStats> byName) {
    NodeExecStats producer = byName.get(operand.op().name());
    if (producer == null || producer.getOutputCount() <= operand.index()) {
      return -1;
    }
    return producer.getOutput(operand.index()).getTensorDescription().getShape().getDim(axis).getSize();
  }
}
