package io.switchhead.tools.inspect;

import static com.google.common.base.Preconditions.checkArgument;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.LegendItem;
import org.jfree.chart.LegendItemCollection;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.axis.SymbolAxis;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.LookupPaintScale;
import org.jfree.chart.renderer.xy.XYBlockRenderer;
import org.jfree.data.xy.DefaultXYZDataset;

/**
 * The chosen experts of one layer over a text's tokens: one column per token, labelled with its
 * character, one row per (selection, head, expert), a cell coloured by its selection where that
 * head chose that expert for that token. Each column holds k coloured cells per head.
 */
final class RoutingHeatmap {

  static final String TOKEN_AXIS = "token (the text's characters; \u00b7 space, \u21b5 new line)";
  static final String EXPERT_AXIS = "selection, head, expert";
  private static final Color[] COLOURS = {new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c)};

  /** Pixels per token column and per expert row, and around the plot for titles, labels and legend. */
  static final int CELL = 12;
  private static final int MARGIN_X = 200;
  private static final int MARGIN_Y = 190;

  private RoutingHeatmap() {}

  /** The picture's width for {@code tokens} columns. */
  static int width(int tokens) {
    return MARGIN_X + tokens * CELL;
  }

  /** The picture's height for the rows of {@code selections}. */
  static int height(List<SelectionTrace> selections) {
    return MARGIN_Y + rows(selections) * CELL;
  }

  /**
   * @param tokens the text's tokens; the first {@code columns} are drawn
   * @param selections one layer's selections
   */
  static JFreeChart chart(String title, int[] tokens, List<SelectionTrace> selections, int columns) {
    checkArgument(selections.size() <= COLOURS.length, "at most %s selections per layer, got %s", COLOURS.length, selections.size());
    checkArgument(columns >= 1 && columns <= tokens.length, "columns (%s) must be in [1, tokens=%s]", columns, tokens.length);
    List<String> rowLabels = new ArrayList<>();
    List<Integer> headStarts = new ArrayList<>();
    List<double[]> cells = new ArrayList<>(); // {token, row, selection + 1}
    for (int s = 0; s < selections.size(); s++) {
      SelectionTrace trace = selections.get(s);
      int heads = trace.site().selection().heads();
      for (int h = 0; h < heads; h++) {
        headStarts.add(rowLabels.size());
        for (int e = 0; e < trace.site().selection().experts(); e++) {
          int row = rowLabels.size();
          rowLabels.add(heads == 1 ? String.format(Locale.ROOT, "%s e%d", trace.site().kind(), e)
              : String.format(Locale.ROOT, "%s h%d e%d", trace.site().kind(), h, e));
          for (int t = 0; t < columns; t++) {
            cells.add(new double[] {t, row, trace.chose(t, h, e) ? s + 1 : 0});
          }
        }
      }
    }
    double[][] xyz = new double[3][cells.size()];
    for (int i = 0; i < cells.size(); i++) {
      for (int c = 0; c < 3; c++) {
        xyz[c][i] = cells.get(i)[c];
      }
    }
    DefaultXYZDataset data = new DefaultXYZDataset();
    data.addSeries("chosen", xyz);

    XYBlockRenderer renderer = new XYBlockRenderer();
    LookupPaintScale scale = new LookupPaintScale(0, selections.size() + 1, Color.WHITE);
    LegendItemCollection legend = new LegendItemCollection();
    for (int s = 0; s < selections.size(); s++) {
      scale.add(s + 0.5, COLOURS[s]);
      legend.add(new LegendItem(selections.get(s).site().label(), COLOURS[s]));
    }
    renderer.setPaintScale(scale);

    SymbolAxis tokenAxis = new SymbolAxis(TOKEN_AXIS, tokenLabels(tokens, columns));
    SymbolAxis expertAxis = new SymbolAxis(EXPERT_AXIS, rowLabels.toArray(String[]::new));
    for (SymbolAxis axis : List.of(tokenAxis, expertAxis)) {
      // Every token and every expert gets its label; the automatic choice would skip some.
      axis.setAutoTickUnitSelection(false);
      axis.setTickUnit(new NumberTickUnit(1));
      axis.setGridBandsVisible(false);
      axis.setTickLabelFont(new Font(Font.MONOSPACED, Font.PLAIN, 10));
    }
    expertAxis.setInverted(true); // the first selection's head 0, expert 0 on top
    XYPlot plot = new XYPlot(data, tokenAxis, expertAxis, renderer);
    plot.setBackgroundPaint(Color.WHITE);
    plot.setDomainGridlinesVisible(false);
    plot.setRangeGridlinesVisible(false);
    plot.setFixedLegendItems(legend);
    // A line between heads: each block of E rows holds exactly k cells per token.
    for (int start : headStarts.subList(1, headStarts.size())) {
      plot.addRangeMarker(new ValueMarker(start - 0.5, Color.GRAY, new BasicStroke(1f)));
    }
    JFreeChart chart = new JFreeChart(title, JFreeChart.DEFAULT_TITLE_FONT, plot, true);
    chart.setBackgroundPaint(Color.WHITE);
    return chart;
  }

  private static int rows(List<SelectionTrace> selections) {
    return selections.stream().mapToInt(s -> s.site().selection().heads() * s.site().selection().experts()).sum();
  }

  /** A byte as one short label: its character if printable ASCII, a sign for space and new line, else its hex code. */
  static String tokenLabel(int token) {
    return switch (token) {
      case ' ' -> "\u00b7";
      case '\n' -> "\u21b5";
      case '\t' -> "\u2192";
      default -> token > 0x20 && token < 0x7f ? Character.toString(token) : String.format(Locale.ROOT, "x%02X", token);
    };
  }

  private static String[] tokenLabels(int[] tokens, int columns) {
    String[] labels = new String[columns];
    for (int t = 0; t < columns; t++) {
      labels[t] = tokenLabel(tokens[t]);
    }
    return labels;
  }
}
