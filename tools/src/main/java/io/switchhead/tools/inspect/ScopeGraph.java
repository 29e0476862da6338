package io.switchhead.tools.inspect;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.base.Joiner;
import com.google.common.base.Splitter;
import com.google.common.collect.ImmutableList;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Deque;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;

/**
 * The model's graph with its name scopes collapsed into boxes: what the picture and the DOT file
 * draw. An op's box is its top scope ({@code embedding}, {@code output}), a layer for the numbered
 * scopes ({@code layers/3}); with an expanded scope such as {@code layers/3/attention}, the boxes
 * along its path become frames around the scopes one level below. Ops without a scope share one
 * box. Only the ops the logits depend on are drawn: initialisers and the like would only add noise.
 *
 * @param boxes every box, parents before their children
 * @param edges between leaf boxes, each once, with the number of tensors it stands for
 */
public record ScopeGraph(ImmutableList<Box> boxes, ImmutableList<Edge> edges) {

  /** The box that ops without a name scope share. */
  static final String UNSCOPED = "(unscoped)";

  /** The box of the ops directly in an expanded scope. */
  static final String OWN_OPS = "(own ops)";

  /**
   * @param path the scope path, e.g. {@code layers/3} or {@code layers/3/attention/q}
   * @param parent the enclosing frame's path, or null at the top
   * @param frame whether it is an expanded scope drawn around its children
   * @param ops the ops of the graph the box stands for (a frame's are its children's)
   * @param parameters the scalars of the variables among them
   */
  public record Box(String path, String parent, boolean frame, int ops, long parameters) {

    /** What the picture writes in the box: the part below its parent. */
    public String label() {
      return parent == null ? path : path.substring(parent.length() + 1);
    }
  }

  public record Edge(String from, String to, int tensors) {}

  /**
   * @param expand a scope to show one level deeper (e.g. {@code layers/3/attention}), or null
   * @throws IllegalArgumentException if no drawn op lies under {@code expand}
   */
  public static ScopeGraph of(Graph graph, GraphOperation output, String expand) {
    Set<GraphOperation> kept = ancestors(output);
    List<String> expandParts = expand == null ? List.of() : Splitter.on('/').omitEmptyStrings().splitToList(expand);
    Map<String, Box> boxes = new LinkedHashMap<>();
    Map<String, Integer> leafOps = new LinkedHashMap<>();
    Map<String, Long> leafParameters = new HashMap<>();
    Map<GraphOperation, String> leafOf = new HashMap<>();
    LinkedHashMap<GraphOperation, List<String>> chains = new LinkedHashMap<>();
    for (Iterator<GraphOperation> it = graph.operations(); it.hasNext(); ) {
      GraphOperation op = it.next();
      if (kept.contains(op)) {
        chains.put(op, chain(op.name(), op.type(), expandParts));
      }
    }
    UnscopedOps.place(chains);
    boolean expandedSomething = false;
    for (Map.Entry<GraphOperation, List<String>> e : chains.entrySet()) {
      List<String> chain = e.getValue();
      expandedSomething |= chain.size() > 1 && chain.get(chain.size() - 2).equals(expand);
      for (int i = 0; i < chain.size() - 1; i++) {
        boxes.putIfAbsent(chain.get(i), new Box(chain.get(i), i == 0 ? null : chain.get(i - 1), true, 0, 0));
      }
      String leaf = chain.get(chain.size() - 1);
      boxes.putIfAbsent(leaf, new Box(leaf, chain.size() == 1 ? null : chain.get(chain.size() - 2), false, 0, 0));
      leafOps.merge(leaf, 1, Integer::sum);
      if (e.getKey().type().equals("VariableV2")) {
        leafParameters.merge(leaf, e.getKey().output(0).shape().size(), Long::sum);
      }
      leafOf.put(e.getKey(), leaf);
    }
    checkArgument(expand == null || expandedSomething, "--expand %s: no scope of that name in the model's graph (boxes: %s)", expand,
        boxes.keySet().stream().filter(p -> !p.contains("/") || p.matches("[^/]+/\\d+")).toList());
    Map<List<String>, Integer> edgeCounts = new LinkedHashMap<>();
    for (Map.Entry<GraphOperation, String> e : leafOf.entrySet()) {
      for (Operand<?> in : e.getKey().inputs()) {
        String from = leafOf.get((GraphOperation) in.op());
        if (from != null && !from.equals(e.getValue())) {
          edgeCounts.merge(List.of(from, e.getValue()), 1, Integer::sum);
        }
      }
    }
    List<Box> out = new ArrayList<>();
    for (Box b : boxes.values()) {
      out.add(b.frame() ? b : new Box(b.path(), b.parent(), false, leafOps.get(b.path()), leafParameters.getOrDefault(b.path(), 0L)));
    }
    List<Edge> edges = new ArrayList<>();
    edgeCounts.forEach((k, v) -> edges.add(new Edge(k.get(0), k.get(1), v)));
    // Stable order for the layout and the files: by path.
    edges.sort(Comparator.comparing(Edge::from).thenComparing(Edge::to));
    return new ScopeGraph(ImmutableList.copyOf(withFrameCounts(out)), ImmutableList.copyOf(edges));
  }

  /**
   * The boxes an op lies in, outermost first; the last one is the box it is drawn in. The ops that
   * lie in an expanded scope itself, not in a scope below it, share a box named {@link #OWN_OPS}.
   */
  static List<String> chain(String opName, String opType, List<String> expand) {
    List<String> parts = Splitter.on('/').splitToList(opName);
    if (parts.size() == 1) {
      // The inputs and the top-level variables (the embedding) are boxes of their own.
      return List.of(opType.equals("Placeholder") || opType.equals("VariableV2") ? opName : UNSCOPED);
    }
    int base = parts.size() > 2 && parts.get(1).matches("\\d+") ? 2 : 1;
    int common = 0;
    while (common < Math.min(parts.size() - 1, expand.size()) && parts.get(common).equals(expand.get(common))) {
      common++;
    }
    if (common < base) {
      return List.of(join(parts, base));
    }
    List<String> chain = new ArrayList<>();
    for (int n = base; n <= common; n++) {
      chain.add(join(parts, n));
    }
    // A variable (layers/3/attention/q) is drawn with its read and initialiser, which lie in the scope of its name.
    boolean scope = common + 1 < parts.size() || opType.equals("VariableV2");
    chain.add(scope ? join(parts, common + 1) : join(parts, common) + "/" + OWN_OPS);
    return chain;
  }

  private static String join(List<String> parts, int n) {
    return Joiner.on('/').join(parts.subList(0, n));
  }

  /** The ops the output depends on, through data and control inputs. */
  private static Set<GraphOperation> ancestors(GraphOperation output) {
    Set<GraphOperation> seen = new HashSet<>(List.of(output));
    Deque<GraphOperation> todo = new ArrayDeque<>(seen);
    while (!todo.isEmpty()) {
      GraphOperation op = todo.pop();
      List<GraphOperation> inputs = new ArrayList<>(op.controlInputs());
      op.inputs().forEach(in -> inputs.add((GraphOperation) in.op()));
      for (GraphOperation in : inputs) {
        if (seen.add(in)) {
          todo.push(in);
        }
      }
    }
    return seen;
  }

  /** A frame's op and parameter counts are the sums of its leaves'. */
  private static List<Box> withFrameCounts(List<Box> boxes) {
    Map<String, Integer> ops = new HashMap<>();
    Map<String, Long> parameters = new HashMap<>();
    Map<String, String> parents = new HashMap<>();
    boxes.forEach(b -> parents.put(b.path(), b.parent()));
    for (Box b : boxes) {
      if (!b.frame()) {
        for (String p = b.parent(); p != null; p = parents.get(p)) {
          ops.merge(p, b.ops(), Integer::sum);
          parameters.merge(p, b.parameters(), Long::sum);
        }
      }
    }
    return boxes.stream()
        .map(b -> b.frame() ? new Box(b.path(), b.parent(), true, ops.getOrDefault(b.path(), 0), parameters.getOrDefault(b.path(), 0L)) : b)
        .toList();
  }

  /** The leaf boxes. */
  public List<Box> leaves() {
    return boxes.stream().filter(b -> !b.frame()).toList();
  }

  @Override
  public String toString() {
    return boxes.size() + " boxes, " + edges.size() + " edges: " + Arrays.toString(boxes.stream().map(Box::path).toArray());
  }
}
