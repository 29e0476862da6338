package io.switchhead.tools.inspect;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/** The inspect report as tables for a terminal. */
public final class TextReport {

  /** The stopping ops listed by name in the text (all are in --json). */
  private static final int NAMES_SHOWN = 12;

  /** The longest bar of the op histogram, in characters. */
  private static final int BAR = 40;

  private TextReport() {}

  public static void print(InspectReport r, PrintWriter out) {
    out.printf("%s (%s)%n%n", r.target(), r.kind().name().toLowerCase(Locale.ROOT).replace('_', ' '));
    costs(r.costs(), out);
    histogram(r.forward(), out);
    if (r.training() != null) {
      histogram(r.training(), out);
    }
    xla(r.xla(), out);
    if (r.savedModel() != null) {
      savedModel(r.savedModel(), out);
    }
    r.written().forEach(f -> out.println("wrote " + f));
  }

  private static void costs(CostTable t, PrintWriter out) {
    out.println("Cost: parameters per part; attention MACs and activation memory (floats) per layer, one sequence.");
    out.println("paper = the paper's formulas (SWITCHHEAD.md sections 1 and 6); graph = counted in the built graph.");
    String format = "%-12s %12s %12s %12s %12s %12s %12s%n";
    out.printf(format, "part", "params paper", "params graph", "MACs paper", "MACs graph", "mem paper", "activ. graph");
    for (CostRow row : t.rows()) {
      costRow(out, format, row);
    }
    costRow(out, format, t.total());
    for (CostTable.Ratios q : t.versusBaseline()) {
      out.printf(Locale.ROOT, "versus its matched dense baseline %s: parameters %.3f; per layer MACs %.3f (paper) %.3f (graph),"
          + " memory %.3f (paper) %.3f (graph activations)%n", q.baseline(), q.parameters(), q.paperMacs(), q.graphMacs(), q.paperMemory(),
          q.graphActivations());
    }
    out.println("graph MACs: every matmul of the built attention (XL memory recomputed, expert-block padding included);");
    out.println("graph activations: every intermediate float tensor of the built attention (an upper bound of what is kept).");
    out.println();
  }

  private static void costRow(PrintWriter out, String format, CostRow row) {
    boolean attention = row.paperMacs() > 0;
    out.printf(Locale.ROOT, format, row.part(), human(row.paperParameters()), human(row.builtParameters()),
        attention ? human(row.paperMacs()) : "-", attention ? human(row.graphMacs()) : "-",
        attention ? human(row.paperMemoryFloats()) : "-", attention ? human(row.graphActivationFloats()) : "-");
  }

  private static void histogram(OpHistogram h, PrintWriter out) {
    out.printf("Op types of the %s graph: %d ops of %d types%n", h.graph(), h.ops(), h.byType().size());
    int most = h.byType().values().stream().mapToInt(Integer::intValue).max().orElse(1);
    h.byType().entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()))
        .forEach(e -> out.printf("  %6d  %-32s %s%n", e.getValue(), e.getKey(), "#".repeat((int) Math.ceil(BAR * e.getValue() / (double) most))));
    out.println();
  }

  private static void xla(XlaReport x, PrintWriter out) {
    out.printf("XLA (%s graph): %d of %d ops compile; asked %s.%n", x.graph(), x.compiled(), x.ops(), x.method());
    out.println("  probe compilation: " + x.probe());
    if (!x.probe().startsWith("work")) {
      out.println("  XLA did not compile the probe, so its kernels are not registered and no op below counts as compiled.");
    }
    out.println("  compiled op types: " + String.join(", ", x.compiledTypes().keySet()));
    out.println("  op types that stop compilation: "
        + x.stoppingTypes().entrySet().stream().map(e -> e.getKey() + " x" + e.getValue()).collect(Collectors.joining(", ")));
    x.stopping().stream().limit(NAMES_SHOWN).forEach(o -> out.printf("    %-60s %s%n", o.name(), o.type()));
    if (x.stopping().size() > NAMES_SHOWN) {
      out.printf("    ... and %d more (all in --json)%n", x.stopping().size() - NAMES_SHOWN);
    }
    out.println("  Placeholders are a step's inputs, and the variables with their Assign and Apply* updates stay outside XLA");
    out.println("  by design (a compiled step takes their values as arguments); any other type listed would stop compilation.");
    out.println();
  }

  private static void savedModel(SavedModelView v, PrintWriter out) {
    out.println("SavedModel " + v.path());
    for (SavedModelView.MetaGraph m : v.metaGraphs()) {
      out.println("  tags: " + String.join(", ", m.tags()));
      for (SavedModelView.Signature s : m.signatures()) {
        out.printf("  signature '%s' (method %s)%n", s.key(), s.method());
        s.inputs().forEach(t -> out.printf("    input  %-14s %-26s %-9s %s%n", t.key(), t.name(), t.dtype(), t.shape()));
        s.outputs().forEach(t -> out.printf("    output %-14s %-26s %-9s %s%n", t.key(), t.name(), t.dtype(), t.shape()));
      }
      out.printf("  variables: %d, %s bytes%n", m.variables().size(), human(m.variableBytes()));
      m.variables().forEach(t -> out.printf("    %-40s %-9s %-18s %s%n", t.name(), t.dtype(), t.shape(), human(t.bytes())));
    }
    out.println();
  }

  private static String human(double v) {
    return HumanNumbers.format(v);
  }
}
