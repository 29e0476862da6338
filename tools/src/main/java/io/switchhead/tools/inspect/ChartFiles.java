package io.switchhead.tools.inspect;

import com.google.common.collect.ImmutableList;
import java.awt.Rectangle;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.text.TextUtils;
import org.jfree.svg.SVGGraphics2D;

/** Writes one chart as {@code <name>.png} (Java2D) and {@code <name>.svg} (JFreeSVG), drawn the same way. */
public final class ChartFiles {

  static {
    // JFreeChart draws rotated text (the vertical axes' labels) as glyph outlines by default, a
    // workaround for rotated drawString in JDKs before 6; the SVG would then hold the label as paths
    // a reader cannot search or select. JDK 17 rotates drawString correctly, in PNG as in SVG.
    TextUtils.setUseDrawRotatedStringWorkaround(false);
  }

  private ChartFiles() {}

  /** @return the PNG and the SVG */
  public static ImmutableList<Path> write(JFreeChart chart, Path directory, String name, int width, int height) {
    Path png = directory.resolve(name + ".png");
    Path svg = directory.resolve(name + ".svg");
    try {
      ChartUtils.saveChartAsPNG(png.toFile(), chart, width, height);
      SVGGraphics2D g = new SVGGraphics2D(width, height);
      chart.draw(g, new Rectangle(0, 0, width, height));
      Files.writeString(svg, g.getSVGDocument());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the picture " + png + " or " + svg, e);
    }
    return ImmutableList.of(png, svg);
  }
}
