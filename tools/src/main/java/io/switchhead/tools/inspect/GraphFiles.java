package io.switchhead.tools.inspect;

import static com.google.common.base.Preconditions.checkArgument;

import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import javax.imageio.ImageIO;
import org.jfree.svg.SVGGraphics2D;

/** Writes the scope graph as SVG, PNG or DOT, chosen by the file's extension. */
public final class GraphFiles {

  private GraphFiles() {}

  /** Checks that the file names a format this writes, before any work is done. */
  public static void checkName(Path file) {
    String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
    checkArgument(name.endsWith(".svg") || name.endsWith(".png") || name.endsWith(".dot"),
        "--graph %s: the file must end in .svg, .png or .dot", file);
  }

  public static void write(ScopeGraph graph, Path file) {
    checkName(file);
    String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
    try {
      Path parent = file.toAbsolutePath().getParent();
      Files.createDirectories(parent);
      if (name.endsWith(".dot")) {
        Files.writeString(file, DotWriter.write(graph), StandardCharsets.UTF_8);
        return;
      }
      GraphLayout layout = GraphLayout.of(graph);
      int w = (int) Math.ceil(layout.width());
      int h = (int) Math.ceil(layout.height());
      if (name.endsWith(".svg")) {
        SVGGraphics2D svg = new SVGGraphics2D(w, h);
        GraphPainter.paint(svg, layout);
        Files.writeString(file, svg.getSVGDocument(), StandardCharsets.UTF_8);
      } else {
        BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
          GraphPainter.paint(g, layout);
        } finally {
          g.dispose();
        }
        ImageIO.write(image, "png", file.toFile());
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }
}
