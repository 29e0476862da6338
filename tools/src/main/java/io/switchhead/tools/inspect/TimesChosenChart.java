package io.switchhead.tools.inspect;

import java.awt.Color;
import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.util.Locale;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.data.category.DefaultCategoryDataset;

/**
 * The usage picture of a selection too wide for a bar per expert (PEER's N experts): a bar per
 * {@link TimesChosen} bin, the experts chosen that often, on a log scale (most of a million experts
 * may lie idle while a few take dozens of choices).
 */
final class TimesChosenChart {

  static final String TIMES_AXIS = "times chosen over the text";
  static final String EXPERTS_AXIS = "experts (log scale)";

  private TimesChosenChart() {}

  static JFreeChart chart(String title, HeadUsage u) {
    TimesChosen times = TimesChosen.of(u);
    DefaultCategoryDataset data = new DefaultCategoryDataset();
    for (int b = 0; b < times.experts().length(); b++) {
      // A log axis has no place for 0: an empty bin has no bar.
      if (times.experts().get(b) > 0) {
        data.addValue(times.experts().get(b), u.site().label(), TimesChosen.label(b));
      }
    }
    JFreeChart chart = ChartFactory.createBarChart(title, TIMES_AXIS, EXPERTS_AXIS, data, PlotOrientation.VERTICAL, true, false, false);
    chart.setBackgroundPaint(Color.WHITE);
    CategoryPlot plot = chart.getCategoryPlot();
    plot.setBackgroundPaint(Color.WHITE);
    plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
    LogAxis experts = new LogAxis(EXPERTS_AXIS);
    experts.setBase(10);
    experts.setSmallestValue(0.5);
    // One tick per power of ten, written out (1, 10, 100, ...), not as 10^2.5.
    experts.setTickUnit(new NumberTickUnit(1));
    experts.setNumberFormatOverride(new DecimalFormat("#,##0", DecimalFormatSymbols.getInstance(Locale.ROOT)));
    plot.setRangeAxis(experts);
    BarRenderer bars = (BarRenderer) plot.getRenderer();
    bars.setBarPainter(new StandardBarPainter());
    bars.setShadowVisible(false);
    bars.setSeriesPaint(0, new Color(0x2ca02c));
    return chart;
  }
}
