package io.switchhead.tools.inspect;

import com.google.common.collect.ImmutableList;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jfree.chart.JFreeChart;

/**
 * The routing pictures of a trace, PNG and SVG each: per layer a heatmap of the chosen experts
 * over the text's first tokens ({@code layer-03-routing}), and per layer and head the usage
 * histogram of its selections ({@code layer-03-attention-head-0-usage}, {@code layer-03-ff-usage}).
 * A selection of more than {@link SelectionSite#PER_EXPERT_MAX_EXPERTS} experts (PEER's) has no
 * heatmap rows, and its usage picture counts experts by times chosen ({@link TimesChosenChart}).
 */
final class RoutingPictures {

  /** A heatmap draws at most this many tokens: more columns would not be readable at one glance. */
  static final int HEATMAP_TOKENS = 160;

  private static final int HISTOGRAM_WIDTH = 720;
  private static final int HISTOGRAM_HEIGHT = 420;

  private RoutingPictures() {}

  static ImmutableList<Path> write(RoutingTrace trace, List<HeadUsage> usage, Path directory) {
    ImmutableList.Builder<Path> files = ImmutableList.builder();
    int tokens = trace.tokens().length;
    int columns = Math.min(tokens, HEATMAP_TOKENS);
    for (int layer = 0; layer < trace.layers(); layer++) {
      // A million experts make no heatmap rows: a wide selection (PEER's) is left out of its layer's.
      List<SelectionTrace> selections = trace.layer(layer).stream().filter(s -> s.site().perExpert()).toList();
      if (selections.isEmpty()) {
        continue;
      }
      String shown = columns == tokens ? String.format(Locale.ROOT, "all %d tokens", tokens)
          : String.format(Locale.ROOT, "the first %d of %,d tokens", columns, tokens);
      String title = String.format(Locale.ROOT, "layer %d: chosen experts, %s", layer, shown);
      files.addAll(ChartFiles.write(RoutingHeatmap.chart(title, trace.tokens(), selections, columns), directory,
          String.format(Locale.ROOT, "layer-%02d-routing", layer), RoutingHeatmap.width(columns), RoutingHeatmap.height(selections)));
    }
    for (Map.Entry<String, List<HeadUsage>> group : byLayerPartAndHead(usage).entrySet()) {
      HeadUsage first = group.getValue().get(0);
      String head = first.site().selection().heads() == 1 ? "" : String.format(Locale.ROOT, ", head %d", first.head());
      String title = String.format(Locale.ROOT, "layer %d %s%s: expert usage over %,d tokens", first.site().layer(), first.site().partLabel(),
          head, tokens);
      JFreeChart chart = first.site().perExpert() ? UsageHistogram.chart(title, group.getValue())
          : TimesChosenChart.chart(title + String.format(Locale.ROOT, ", %,d experts", first.site().selection().experts()), first);
      files.addAll(ChartFiles.write(chart, directory, group.getKey(), HISTOGRAM_WIDTH, HISTOGRAM_HEIGHT));
    }
    return files.build();
  }

  /** The heads drawn together, by file name: the value and output selections of one attention head share a histogram. */
  private static Map<String, List<HeadUsage>> byLayerPartAndHead(List<HeadUsage> usage) {
    Map<String, List<HeadUsage>> groups = new LinkedHashMap<>();
    for (HeadUsage u : usage) {
      String name = u.site().selection().heads() == 1
          ? String.format(Locale.ROOT, "layer-%02d-%s-usage", u.site().layer(), u.site().part())
          : String.format(Locale.ROOT, "layer-%02d-%s-head-%d-usage", u.site().layer(), u.site().part(), u.head());
      groups.computeIfAbsent(name, n -> new ArrayList<>()).add(u);
    }
    return groups;
  }
}
