package io.switchhead.tools.inspect;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.accounting.ParameterCount;
import io.switchhead.graph.config.Presets;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.NodeList;

/**
 * The pictures of the 16-layer 47M preset: the SVG is an XML document that names every layer, the
 * DOT file parses by DOT's grammar and names every layer, the PNG decodes; an expanded attention
 * shows its parts inside its layer's frame.
 */
class InspectGraphPicturesTest {

  private static final String PRESET = "switchhead-47m-wikitext103";

  @TempDir static Path dir;
  private static ForwardModel model;

  @BeforeAll
  static void build() {
    model = ForwardModel.build(Presets.get(PRESET));
  }

  @AfterAll
  static void close() {
    model.close();
  }

  private static ScopeGraph scopes(String expand) {
    return ScopeGraph.of(model.graph(), model.logits(), expand);
  }

  private static List<String> layerNames() {
    List<String> names = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      names.add("layers/" + i);
    }
    return names;
  }

  @Test
  void theSvgIsAnXmlDocumentNamingEveryLayer() throws Exception {
    Path svg = dir.resolve("model.svg");
    GraphFiles.write(scopes(null), svg);
    DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
    // The SVG names the SVG 1.1 DTD, which a parse offline must not fetch.
    factory.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
    Document doc = factory.newDocumentBuilder().parse(svg.toFile());
    assertEquals("svg", doc.getDocumentElement().getTagName());
    NodeList texts = doc.getElementsByTagName("text");
    List<String> shown = new ArrayList<>();
    for (int i = 0; i < texts.getLength(); i++) {
      shown.add(texts.item(i).getTextContent());
    }
    for (String layer : layerNames()) {
      assertTrue(shown.contains(layer), layer + " not in the SVG's texts " + shown);
    }
    assertTrue(shown.containsAll(List.of("tokens", "embedding", "final_norm", "output")), shown.toString());
  }

  @Test
  void theDotFileParsesAndNamesEveryLayerAndTheExpandedParts() throws Exception {
    Path dot = dir.resolve("model.dot");
    GraphFiles.write(scopes("layers/3/attention"), dot);
    List<String> labels = DotGrammar.parse(Files.readString(dot)).stream().map(l -> l.split("\n")[0]).toList();
    for (String layer : layerNames()) {
      // layers/3 is a frame (a cluster) around its parts, so not a node of its own.
      assertTrue(layer.equals("layers/3") || labels.contains(layer), layer + " not in " + labels);
    }
    for (String part : List.of("q", "k", "v", "o", "sel_v", "sel_o", "ff", "attention_norm")) {
      assertTrue(labels.contains(part), part + " not in " + labels);
    }
    assertTrue(Files.readString(dot).contains("subgraph cluster_"), "the expanded scopes are clusters");
  }

  @Test
  void theExpandedAttentionIsFramedInsideItsLayer() {
    ScopeGraph g = scopes("layers/3/attention");
    ScopeGraph.Box attention = g.boxes().stream().filter(b -> b.path().equals("layers/3/attention")).findFirst().orElseThrow();
    assertTrue(attention.frame());
    assertEquals("layers/3", attention.parent());
    assertTrue(g.leaves().stream().anyMatch(b -> b.path().equals("layers/3/attention/sel_v")));
    // Every edge joins two leaves, and no leaf is fed only by itself.
    g.edges().forEach(e -> assertTrue(!e.from().equals(e.to()), e.toString()));
    assertThrows(IllegalArgumentException.class, () -> scopes("layers/3/attentio"));
  }

  @Test
  void theBoxesParametersAddUpToTheModels() {
    long drawn = scopes("layers/3/attention").boxes().stream().filter(b -> b.parent() == null).mapToLong(ScopeGraph.Box::parameters).sum();
    assertEquals(ParameterCount.of(Presets.get(PRESET)).total(), drawn);
    ScopeGraph.Box v = scopes("layers/3/attention").leaves().stream().filter(b -> b.path().equals("layers/3/attention/v")).findFirst()
        .orElseThrow();
    // [H*E, D, dh] = [2 * 5, 412, 76]: the variable and its read in one box.
    assertEquals(10L * 412 * 76, v.parameters());
  }

  @Test
  void thePngDecodesAtTheLayoutsSize() throws Exception {
    Path png = dir.resolve("model.png");
    GraphFiles.write(scopes(null), png);
    BufferedImage image = ImageIO.read(png.toFile());
    GraphLayout layout = GraphLayout.of(scopes(null));
    assertEquals((int) Math.ceil(layout.width()), image.getWidth());
    assertEquals((int) Math.ceil(layout.height()), image.getHeight());
  }
}
