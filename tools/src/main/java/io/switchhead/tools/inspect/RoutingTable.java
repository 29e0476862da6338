package io.switchhead.tools.inspect;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.stream.Collectors;

/** The routing numbers as a table for a terminal: one row per layer, selection and head. */
final class RoutingTable {

  private RoutingTable() {}

  static void print(RoutingSummary summary, PrintWriter out) {
    out.printf(Locale.ROOT, "expert routing of %s (%,d tokens), checkpoint %s%n", summary.text(), summary.tokens(), summary.checkpoint());
    out.println("entropy in nats (log E when every expert is used equally); unevenness = log E - entropy (SEEDS-MOE.md)");
    out.printf(Locale.ROOT, "%5s  %-10s %-6s %4s %9s %8s %10s  %s%n", "layer", "part", "select", "head", "choices", "entropy", "unevenness",
        "share per expert (%)");
    for (HeadUsage u : summary.usage()) {
      out.printf(Locale.ROOT, "%5d  %-10s %-6s %4d %,9d %8.4f %10.4f  %s%n", u.site().layer(), u.site().part(), u.site().kind(), u.head(),
          u.total(), u.entropy(), u.unevenness(), shares(u));
    }
    out.flush();
  }

  private static String shares(HeadUsage u) {
    return u.shares().stream().mapToObj(s -> String.format(Locale.ROOT, "%5.1f", 100 * s)).collect(Collectors.joining(" "));
  }
}
