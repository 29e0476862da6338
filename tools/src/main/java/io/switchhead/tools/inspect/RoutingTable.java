package io.switchhead.tools.inspect;

import java.io.PrintWriter;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/** The routing numbers as a table for a terminal: one row per layer, selection and head. */
final class RoutingTable {

  private RoutingTable() {}

  static void print(RoutingSummary summary, PrintWriter out) {
    out.printf(Locale.ROOT, "expert routing of %s (%,d tokens), checkpoint %s%n", summary.text(), summary.tokens(), summary.checkpoint());
    out.println("entropy in nats (log E when every expert is used equally); unevenness = log E - entropy (SEEDS-MOE.md)");
    if (summary.usage().stream().anyMatch(u -> !u.site().perExpert())) {
      out.printf(Locale.ROOT, "a selection of more than %d experts (PEER's, its heads together) gets a summary: experts used, the most chosen"
          + " (id, share %%), how many experts were chosen how often%n", SelectionSite.PER_EXPERT_MAX_EXPERTS);
    }
    out.printf(Locale.ROOT, "%5s  %-10s %-6s %4s %9s %8s %10s  %s%n", "layer", "part", "select", "head", "choices", "entropy", "unevenness",
        "share per expert (%)");
    for (HeadUsage u : summary.usage()) {
      out.printf(Locale.ROOT, "%5d  %-10s %-6s %4d %,9d %8.4f %10.4f  %s%n", u.site().layer(), u.site().part(), u.site().kind(), u.head(),
          u.total(), u.entropy(), u.unevenness(), shares(u));
    }
    out.flush();
  }

  /** The shares expert by expert, or for a selection too wide for that (PEER's) a summary: use, the most chosen, how often. */
  private static String shares(HeadUsage u) {
    if (u.site().perExpert()) {
      return u.shares().stream().mapToObj(s -> String.format(Locale.ROOT, "%5.1f", 100 * s)).collect(Collectors.joining(" "));
    }
    String most = Arrays.stream(u.mostChosen(MOST_CHOSEN)).mapToObj(e -> String.format(Locale.ROOT, "%d (%.2f)", e, 100 * u.shares().get(e)))
        .collect(Collectors.joining(", "));
    TimesChosen times = TimesChosen.of(u);
    String bins = IntStream.range(0, times.experts().length()).filter(b -> times.experts().get(b) > 0)
        .mapToObj(b -> String.format(Locale.ROOT, "%s: %,d", TimesChosen.label(b), times.experts().get(b))).collect(Collectors.joining("; "));
    return String.format(Locale.ROOT, "used %,d of %,d experts (%.2f%%); most chosen: %s; experts by times chosen: %s", u.usedExperts(),
        u.site().selection().experts(), 100 * u.usedShare(), most, bins);
  }

  /** How many of the most chosen experts a summary names. */
  static final int MOST_CHOSEN = 5;
}
