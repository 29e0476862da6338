package io.switchhead.savedmodel;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.ops.moe.SegmentedConditionalMatmul;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;

/**
 * Marks the computation of a SavedModel's signatures for XLA as TF1's {@code jit_scope} does: the
 * attribute {@code _XlaCompile = true} on each node that computes their outputs. TensorFlow's
 * MarkForCompilationPass clusters marked nodes wherever the graph is run (TF Serving and every
 * other user of the C++ loader, Python's {@code tf.saved_model.load}), with auto-clustering off and
 * on the CPU too, and each cluster is compiled at its first run for the shapes it meets. TF Java
 * cannot set an attribute on a built op, so the GraphDef in {@code saved_model.pb} is rewritten.
 *
 * <p>Left unmarked, so they run as they would without the marks:
 *
 * <ul>
 *   <li>placeholders, variables and the reads of them (ref tensors, which XLA leaves out anyway);
 *   <li>string constants (the input checks' messages; XLA has no string type);
 *   <li>the segmented expert dispatch ({@link SegmentedConditionalMatmul#SCOPE}): its segment sizes
 *       are data, and XLA needs them as compile-time constants. Marked, a cluster holding it either
 *       fails to compile and fails the request ("Input 1 to node .../segmentedMatmul/SplitV with op
 *       SplitV must be a compile-time constant", a two-layer model), or is compiled for the first
 *       routing it sees and runs every other routing uncompiled, through a fallback dearer than the
 *       plain graph (switchhead-tiny);
 *   <li>the input checks' asserts and their conditions: the computation reaches them through
 *       control edges only, which the marking does not follow, and XLA's {@code Assert} ignores
 *       its condition, so a compiled check would check nothing.
 * </ul>
 */
public final class XlaMarks {

  /** The attribute TF1's {@code jit_scope} sets: compile this node with XLA where it runs. */
  public static final String COMPILE_ATTR = "_XlaCompile";

  /**
   * What {@code export --xla} marks: the full-window signatures. {@code decode_step} stays
   * unmarked: its cache grows by every call's tokens, so each call brings a shape no cluster was
   * compiled for, and XLA compiles until TensorFlow gives up on the cluster; on switchhead-tiny
   * (CPU) the first two sequences took 12 to 17 s and decoding stayed 1.5x to 2.1x slower
   * (docs/benchmarks/serving-xla.md).
   */
  public static final List<String> FULL_WINDOW = List.of(ServingSignatures.DEFAULT, ServingSignatures.NEXT_TOKEN_LOGPROBS);

  private static final Pattern DISPATCH = Pattern.compile("(.*/)?" + SegmentedConditionalMatmul.SCOPE + "(_\\d+)?/.*");
  private static final AttrValue TRUE = AttrValue.newBuilder().setB(true).build();

  private XlaMarks() {}

  /** Marks, in the SavedModel at {@code dir} (its {@code saved_model.pb} rewritten in place), what computes {@code signatures}' outputs. */
  public static void mark(Path dir, Collection<String> signatures) {
    Path file = dir.resolve("saved_model.pb");
    try {
      SavedModel model = SavedModel.parseFrom(Files.readAllBytes(file));
      checkArgument(model.getMetaGraphsCount() == 1, "%s holds %s meta graphs; an export holds one", file, model.getMetaGraphsCount());
      MetaGraphDef meta = model.getMetaGraphs(0);
      GraphDef marked = mark(meta.getGraphDef(), outputs(meta, signatures, file));
      Files.write(file, model.toBuilder().setMetaGraphs(0, meta.toBuilder().setGraphDef(marked)).build().toByteArray());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot mark " + file + " for XLA", e);
    }
  }

  /** True if {@code node} carries the mark. */
  public static boolean isMarked(NodeDef node) {
    AttrValue mark = node.getAttrMap().get(COMPILE_ATTR);
    return mark != null && mark.getB();
  }

  private static List<String> outputs(MetaGraphDef meta, Collection<String> signatures, Path file) {
    List<String> tensors = new ArrayList<>();
    for (String key : signatures) {
      SignatureDef signature = meta.getSignatureDefMap().get(key);
      checkArgument(signature != null, "%s has no signature %s; it has %s", file, key, meta.getSignatureDefMap().keySet());
      signature.getOutputsMap().values().stream().map(TensorInfo::getName).forEach(tensors::add);
    }
    return tensors;
  }

  /** {@code graph} with every node that computes {@code outputs} (tensor names) marked, but for those the class comment leaves out. */
  static GraphDef mark(GraphDef graph, Collection<String> outputs) {
    Map<String, NodeDef> nodes = new HashMap<>();
    graph.getNodeList().forEach(n -> nodes.put(n.getName(), n));
    Set<String> computing = dataAncestors(nodes, outputs);
    GraphDef.Builder marked = graph.toBuilder();
    for (NodeDef.Builder node : marked.getNodeBuilderList()) {
      if (computing.contains(node.getName()) && compilable(node, nodes)) {
        node.putAttr(COMPILE_ATTR, TRUE);
      }
    }
    return marked.build();
  }

  /** The nodes {@code outputs} depend on through data edges (not control edges, which lead to the checks). */
  private static Set<String> dataAncestors(Map<String, NodeDef> nodes, Collection<String> outputs) {
    Set<String> seen = new HashSet<>();
    Deque<String> todo = new ArrayDeque<>();
    outputs.forEach(t -> todo.add(nodeOf(t)));
    while (!todo.isEmpty()) {
      String name = todo.pop();
      if (seen.add(name)) {
        NodeDef node = nodes.get(name);
        checkArgument(node != null, "the graph has no node %s", name);
        node.getInputList().stream().filter(in -> !in.startsWith("^")).forEach(in -> todo.add(nodeOf(in)));
      }
    }
    return seen;
  }

  private static boolean compilable(NodeDef.Builder node, Map<String, NodeDef> nodes) {
    String op = node.getOp();
    if (op.equals("Placeholder") || op.equals("VariableV2") || DISPATCH.matcher(node.getName()).matches()) {
      return false;
    }
    if (op.equals("Const") && node.getAttrMap().get("dtype").getType() == DataType.DT_STRING) {
      return false;
    }
    return node.getInputList().stream().noneMatch(in -> !in.startsWith("^") && nodes.get(nodeOf(in)).getOp().equals("VariableV2"));
  }

  /** The node of a tensor name ({@code node:0}, {@code node}) or control input ({@code ^node}). */
  private static String nodeOf(String tensor) {
    String name = tensor.startsWith("^") ? tensor.substring(1) : tensor;
    int colon = name.indexOf(':');
    return colon < 0 ? name : name.substring(0, colon);
  }
}
