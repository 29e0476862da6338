package io.switchhead.tools.inspect;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.geom.Point2D;
import java.awt.geom.RoundRectangle2D;
import java.util.List;

/**
 * Draws a laid-out scope graph on any Graphics2D: JFreeSVG's for the SVG, a BufferedImage's for the
 * PNG, so both show the same picture. Frames are pale with their scope's name on top; leaf boxes are
 * coloured by what they are (attention, feed-forward, norms, inputs and parameters, the rest) and
 * say how many ops they stand for.
 */
final class GraphPainter {

  private static final Color EDGE = new Color(0x70, 0x78, 0x80);
  private static final Color TEXT = new Color(0x20, 0x20, 0x28);

  private GraphPainter() {}

  static void paint(Graphics2D g, GraphLayout layout) {
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, (int) Math.ceil(layout.width()), (int) Math.ceil(layout.height()));
    // Frames first, so that the boxes and edges inside them are drawn over them.
    for (GraphLayout.Placed p : layout.boxes()) {
      if (p.box().frame()) {
        frame(g, p);
      }
    }
    g.setStroke(new BasicStroke(1.2f));
    for (GraphLayout.Route r : layout.routes()) {
      route(g, r.points());
    }
    for (GraphLayout.Placed p : layout.boxes()) {
      if (!p.box().frame()) {
        leaf(g, p);
      }
    }
  }

  private static void frame(Graphics2D g, GraphLayout.Placed p) {
    RoundRectangle2D shape = new RoundRectangle2D.Double(p.x(), p.y(), p.w(), p.h(), 12, 12);
    g.setColor(new Color(0xf4, 0xf6, 0xfa));
    g.fill(shape);
    g.setColor(new Color(0x8a, 0x96, 0xa8));
    g.setStroke(new BasicStroke(1.2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 1, new float[] {5, 3}, 0));
    g.draw(shape);
    g.setFont(GraphLayout.TITLE);
    g.setColor(TEXT);
    g.drawString(p.box().label() + "  (" + GraphLayout.detailLine(p.box()) + ")", (float) p.x() + 10, (float) p.y() + 17);
  }

  private static void leaf(Graphics2D g, GraphLayout.Placed p) {
    RoundRectangle2D shape = new RoundRectangle2D.Double(p.x(), p.y(), p.w(), p.h(), 8, 8);
    g.setColor(fill(p.box().path()));
    g.fill(shape);
    g.setColor(new Color(0x40, 0x48, 0x58));
    g.setStroke(new BasicStroke(1f));
    g.draw(shape);
    g.setColor(TEXT);
    centred(g, p, p.box().label(), GraphLayout.TITLE, 16);
    centred(g, p, GraphLayout.detailLine(p.box()), GraphLayout.DETAIL, 31);
  }

  private static void centred(Graphics2D g, GraphLayout.Placed p, String text, java.awt.Font font, double baseline) {
    g.setFont(font);
    FontMetrics m = g.getFontMetrics();
    g.drawString(text, (float) (p.x() + (p.w() - m.stringWidth(text)) / 2), (float) (p.y() + baseline));
  }

  /** Colour by role, read from the scope's name. */
  static Color fill(String path) {
    String last = path.substring(path.lastIndexOf('/') + 1);
    if (path.contains("norm")) {
      return new Color(0xe8, 0xe8, 0xe8);
    }
    if (path.contains("attention")) {
      return new Color(0xff, 0xd8, 0xa8);
    }
    if (path.contains("/ff") || last.startsWith("ff")) {
      return new Color(0xc8, 0xec, 0xc8);
    }
    if (path.startsWith("layers/")) {
      return new Color(0xcf, 0xe2, 0xff);
    }
    return new Color(0xf0, 0xe6, 0xff);
  }

  private static void route(Graphics2D g, List<Point2D.Double> points) {
    if (points.size() < 2) {
      return;
    }
    Path2D.Double line = new Path2D.Double();
    line.moveTo(points.get(0).x, points.get(0).y);
    for (Point2D.Double q : points.subList(1, points.size())) {
      line.lineTo(q.x, q.y);
    }
    g.setColor(EDGE);
    g.draw(line);
    // The arrow head, along the last segment.
    Point2D.Double end = points.get(points.size() - 1);
    Point2D.Double before = points.get(points.size() - 2);
    double angle = Math.atan2(end.y - before.y, end.x - before.x);
    Path2D.Double head = new Path2D.Double();
    head.moveTo(end.x, end.y);
    head.lineTo(end.x - 8 * Math.cos(angle - 0.4), end.y - 8 * Math.sin(angle - 0.4));
    head.lineTo(end.x - 8 * Math.cos(angle + 0.4), end.y - 8 * Math.sin(angle + 0.4));
    head.closePath();
    g.fill(head);
  }
}
