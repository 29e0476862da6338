package io.switchhead.tools.inspect;

import com.google.common.collect.ImmutableList;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.geom.Point2D;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.eclipse.elk.alg.layered.options.LayeredMetaDataProvider;
import org.eclipse.elk.alg.layered.options.LayeredOptions;
import org.eclipse.elk.core.RecursiveGraphLayoutEngine;
import org.eclipse.elk.core.data.LayoutMetaDataService;
import org.eclipse.elk.core.math.ElkPadding;
import org.eclipse.elk.core.options.CoreOptions;
import org.eclipse.elk.core.options.Direction;
import org.eclipse.elk.core.options.EdgeRouting;
import org.eclipse.elk.core.options.HierarchyHandling;
import org.eclipse.elk.core.util.BasicProgressMonitor;
import org.eclipse.elk.graph.ElkBendPoint;
import org.eclipse.elk.graph.ElkEdge;
import org.eclipse.elk.graph.ElkEdgeSection;
import org.eclipse.elk.graph.ElkNode;
import org.eclipse.elk.graph.util.ElkGraphUtil;

/**
 * Places the boxes of a {@link ScopeGraph} with Eclipse ELK's layered layout, top to bottom in the
 * order data flows, frames around their children, edges routed orthogonally around the boxes.
 * Coordinates are absolute, in pixels.
 */
public record GraphLayout(double width, double height, ImmutableList<Placed> boxes, ImmutableList<Route> routes) {

  public record Placed(ScopeGraph.Box box, double x, double y, double w, double h) {}

  public record Route(ScopeGraph.Edge edge, ImmutableList<Point2D.Double> points) {}

  static final Font TITLE = new Font(Font.SANS_SERIF, Font.BOLD, 13);
  static final Font DETAIL = new Font(Font.SANS_SERIF, Font.PLAIN, 11);
  static final double FRAME_TITLE = 22;
  private static final double MARGIN = 16;

  static {
    LayoutMetaDataService.getInstance().registerLayoutMetaDataProviders(new LayeredMetaDataProvider());
  }

  public static GraphLayout of(ScopeGraph graph) {
    ElkNode root = ElkGraphUtil.createGraph();
    root.setProperty(CoreOptions.ALGORITHM, LayeredOptions.ALGORITHM_ID);
    root.setProperty(CoreOptions.DIRECTION, Direction.DOWN);
    root.setProperty(CoreOptions.EDGE_ROUTING, EdgeRouting.ORTHOGONAL);
    // Edges cross frames (into an expanded attention), so the frames are laid out with the graph around them.
    root.setProperty(CoreOptions.HIERARCHY_HANDLING, HierarchyHandling.INCLUDE_CHILDREN);
    root.setProperty(LayeredOptions.SPACING_NODE_NODE_BETWEEN_LAYERS, 28.0);
    root.setProperty(CoreOptions.SPACING_NODE_NODE, 18.0);
    FontMetrics title = metrics(TITLE);
    FontMetrics detail = metrics(DETAIL);
    Map<String, ElkNode> nodes = new HashMap<>();
    for (ScopeGraph.Box b : graph.boxes()) {
      ElkNode node = ElkGraphUtil.createNode(b.parent() == null ? root : nodes.get(b.parent()));
      nodes.put(b.path(), node);
      if (b.frame()) {
        node.setProperty(CoreOptions.PADDING, new ElkPadding(FRAME_TITLE + 8, 10, 10, 10));
      } else {
        int w = Math.max(title.stringWidth(b.label()), detail.stringWidth(detailLine(b)));
        node.setDimensions(w + 20, 38);
      }
    }
    List<ElkEdge> edges = new ArrayList<>();
    for (ScopeGraph.Edge e : graph.edges()) {
      ElkEdge edge = ElkGraphUtil.createSimpleEdge(nodes.get(e.from()), nodes.get(e.to()));
      ElkGraphUtil.updateContainment(edge);
      edges.add(edge);
    }
    new RecursiveGraphLayoutEngine().layout(root, new BasicProgressMonitor());

    List<Placed> placed = new ArrayList<>();
    for (ScopeGraph.Box b : graph.boxes()) {
      ElkNode n = nodes.get(b.path());
      Point2D.Double at = absolute(n);
      placed.add(new Placed(b, at.x + MARGIN, at.y + MARGIN, n.getWidth(), n.getHeight()));
    }
    List<Route> routes = new ArrayList<>();
    for (int i = 0; i < edges.size(); i++) {
      ElkEdge edge = edges.get(i);
      // Section coordinates are relative to the node that contains the edge.
      Point2D.Double origin = absolute(edge.getContainingNode());
      List<Point2D.Double> points = new ArrayList<>();
      for (ElkEdgeSection s : edge.getSections()) {
        points.add(shifted(origin, s.getStartX(), s.getStartY()));
        for (ElkBendPoint bend : s.getBendPoints()) {
          points.add(shifted(origin, bend.getX(), bend.getY()));
        }
        points.add(shifted(origin, s.getEndX(), s.getEndY()));
      }
      routes.add(new Route(graph.edges().get(i), ImmutableList.copyOf(points)));
    }
    return new GraphLayout(root.getWidth() + 2 * MARGIN, root.getHeight() + 2 * MARGIN, ImmutableList.copyOf(placed),
        ImmutableList.copyOf(routes));
  }

  /** The second line of a leaf box (and a frame's title after its name): ops and parameters. */
  static String detailLine(ScopeGraph.Box b) {
    String ops = b.ops() + (b.ops() == 1 ? " op" : " ops");
    return b.parameters() == 0 ? ops : ops + ", " + HumanNumbers.format(b.parameters()) + " params";
  }

  private static Point2D.Double shifted(Point2D.Double origin, double x, double y) {
    return new Point2D.Double(origin.x + x + MARGIN, origin.y + y + MARGIN);
  }

  /** A node's position in the root's coordinates (ELK's are relative to the parent). */
  private static Point2D.Double absolute(ElkNode n) {
    double x = 0;
    double y = 0;
    for (ElkNode at = n; at != null && at.getParent() != null; at = at.getParent()) {
      x += at.getX();
      y += at.getY();
    }
    return new Point2D.Double(x, y);
  }

  /** Text widths as the painter will draw them (the JDK's own font metrics). */
  static FontMetrics metrics(Font font) {
    return new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB).createGraphics().getFontMetrics(font);
  }
}
