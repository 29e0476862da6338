package io.switchhead.tools.inspect;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The scope graph in Graphviz's DOT language: one node per leaf box, a {@code cluster} subgraph per
 * frame (so {@code dot} draws the expanded scope as a box around its parts), one edge per box pair.
 */
final class DotWriter {

  private DotWriter() {}

  static String write(ScopeGraph graph) {
    Map<String, Integer> ids = new HashMap<>();
    for (ScopeGraph.Box b : graph.boxes()) {
      ids.put(b.path(), ids.size());
    }
    StringBuilder out = new StringBuilder("digraph model {\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n");
    for (ScopeGraph.Box b : graph.boxes()) {
      if (b.parent() == null) {
        box(out, graph, b, ids, "  ");
      }
    }
    for (ScopeGraph.Edge e : graph.edges()) {
      out.append("  n").append(ids.get(e.from())).append(" -> n").append(ids.get(e.to()));
      out.append(" [tooltip=").append(quoted(e.tensors() + (e.tensors() == 1 ? " tensor" : " tensors"))).append("];\n");
    }
    return out.append("}\n").toString();
  }

  private static void box(StringBuilder out, ScopeGraph graph, ScopeGraph.Box b, Map<String, Integer> ids, String indent) {
    if (!b.frame()) {
      java.awt.Color c = GraphPainter.fill(b.path());
      out.append(indent).append('n').append(ids.get(b.path())).append(" [label=")
          .append(quoted(b.label() + "\n" + GraphLayout.detailLine(b))).append(", tooltip=").append(quoted(b.path()))
          .append(String.format(", fillcolor=\"#%02x%02x%02x\"];%n", c.getRed(), c.getGreen(), c.getBlue()));
      return;
    }
    out.append(indent).append("subgraph cluster_").append(ids.get(b.path())).append(" {\n");
    out.append(indent).append("  label=").append(quoted(b.label())).append("; style=dashed;\n");
    List<ScopeGraph.Box> children = graph.boxes().stream().filter(c -> b.path().equals(c.parent())).toList();
    for (ScopeGraph.Box c : children) {
      box(out, graph, c, ids, indent + "  ");
    }
    out.append(indent).append("}\n");
  }

  /** A DOT string: quotes and backslashes escaped, line breaks as DOT's \n. */
  static String quoted(String s) {
    return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + '"';
  }
}
