package io.switchhead.tools.inspect;

import static com.google.common.base.Preconditions.checkArgument;

import java.awt.BasicStroke;
import java.awt.Color;
import java.util.List;
import java.util.Locale;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.ui.RectangleAnchor;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.data.category.DefaultCategoryDataset;

/**
 * The expert-usage histogram of one head: per expert, the share of the head's choices that took
 * it, one bar per selection (values and output side by side), and a line at the share of even use.
 */
final class UsageHistogram {

  static final String EXPERT_AXIS = "expert";
  static final String SHARE_AXIS = "share of the head's choices (%)";

  private UsageHistogram() {}

  /** @param heads the same head of the selections to draw together, all with the same E */
  static JFreeChart chart(String title, List<HeadUsage> heads) {
    checkArgument(!heads.isEmpty(), "a histogram needs at least one selection");
    int experts = heads.get(0).site().selection().experts();
    DefaultCategoryDataset data = new DefaultCategoryDataset();
    for (HeadUsage u : heads) {
      checkArgument(u.site().selection().experts() == experts, "%s has %s experts, %s has %s: one histogram needs one E",
          heads.get(0).site().name(), experts, u.site().name(), u.site().selection().experts());
      for (int e = 0; e < experts; e++) {
        data.addValue(100 * u.shares().get(e), u.site().label(), Integer.toString(e));
      }
    }
    JFreeChart chart = ChartFactory.createBarChart(title, EXPERT_AXIS, SHARE_AXIS, data, PlotOrientation.VERTICAL, true, false, false);
    chart.setBackgroundPaint(Color.WHITE);
    CategoryPlot plot = chart.getCategoryPlot();
    plot.setBackgroundPaint(Color.WHITE);
    plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
    BarRenderer bars = (BarRenderer) plot.getRenderer();
    bars.setBarPainter(new StandardBarPainter());
    bars.setShadowVisible(false);
    bars.setSeriesPaint(0, new Color(0x1f77b4));
    bars.setSeriesPaint(1, new Color(0xff7f0e));
    bars.setSeriesPaint(2, new Color(0x2ca02c));
    ValueMarker even = new ValueMarker(100.0 / experts, Color.DARK_GRAY, new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER,
        1f, new float[] {4f, 4f}, 0f));
    even.setLabel(String.format(Locale.ROOT, "even use (%.1f%%)", 100.0 / experts));
    even.setLabelAnchor(RectangleAnchor.TOP_RIGHT);
    even.setLabelTextAnchor(TextAnchor.BOTTOM_RIGHT);
    plot.addRangeMarker(even);
    return chart;
  }
}
