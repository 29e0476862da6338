package io.switchhead.tools.bench;

import com.google.common.collect.ImmutableList;
import io.switchhead.tools.inspect.ChartFiles;
import java.awt.Color;
import java.nio.file.Path;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.data.category.DefaultCategoryDataset;

/**
 * {@link CompareBenchmark.Figures} as bar charts, each as PNG and SVG: time per step by model (one
 * bar per step kind, and one for the PyTorch reference when it ran), the plain step's memory, and the validation bpc when the models were trained.
 */
public final class CompareChart {

  private static final int WIDTH = 900;
  private static final int HEIGHT = 420;

  /** The time chart's series of the PyTorch reference, when there is one. */
  static final String PYTORCH_SERIES = "PyTorch (eager)";

  private CompareChart() {}

  /** @return the files written, into {@code directory} as compare-time, compare-memory and compare-bpc */
  public static ImmutableList<Path> write(CompareBenchmark.Figures f, Path directory) {
    ImmutableList.Builder<Path> files = ImmutableList.builder();
    DefaultCategoryDataset time = new DefaultCategoryDataset();
    DefaultCategoryDataset memory = new DefaultCategoryDataset();
    for (CompareBenchmark.Row r : f.rows()) {
      time.addValue(r.millis().median(), r.kind().label(), r.entry().name());
      r.stepBytes().ifPresent(m -> {
        memory.addValue(m.activations() / 1e6, "activations (forward)", r.entry().name());
        memory.addValue(m.peak() / 1e6, "step memory", r.entry().name());
        memory.addValue(r.variableBytes() / 1e6, "variables", r.entry().name());
      });
    }
    // The eager PyTorch reference's step beside each model's own (bench compare --pytorch).
    f.pytorch().forEach((name, p) -> time.addValue(p.millis().median(), PYTORCH_SERIES, name));
    String batch = "batch " + f.settings().batch() + ", " + CpuName.describe();
    files.addAll(ChartFiles.write(bars("Training step time (median; " + batch + ")", "ms per step", time), directory, "compare-time", WIDTH, HEIGHT));
    files.addAll(ChartFiles.write(bars("Training step memory (TensorFlow's allocator, plain step)", "MB", memory), directory, "compare-memory",
        WIDTH, HEIGHT));
    if (!f.quality().isEmpty()) {
      DefaultCategoryDataset bpc = new DefaultCategoryDataset();
      f.quality().forEach((name, q) -> bpc.addValue(q.validationBpc(), "validation bpc", name));
      files.addAll(ChartFiles.write(bars("Validation bpc after " + f.settings().qualitySteps() + " steps (lower is better)", "bits per byte", bpc),
          directory, "compare-bpc", WIDTH, HEIGHT));
    }
    return files.build();
  }

  private static JFreeChart bars(String title, String valueAxis, DefaultCategoryDataset data) {
    JFreeChart chart = ChartFactory.createBarChart(title, null, valueAxis, data, PlotOrientation.VERTICAL, true, false, false);
    chart.setBackgroundPaint(Color.WHITE);
    CategoryPlot plot = chart.getCategoryPlot();
    plot.setBackgroundPaint(Color.WHITE);
    plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
    // Model names are long (switchhead-47m-wikitext103): two lines each, never cut to "switchhe...".
    plot.getDomainAxis().setMaximumCategoryLabelLines(2);
    BarRenderer renderer = (BarRenderer) plot.getRenderer();
    renderer.setBarPainter(new StandardBarPainter());
    renderer.setShadowVisible(false);
    return chart;
  }
}
