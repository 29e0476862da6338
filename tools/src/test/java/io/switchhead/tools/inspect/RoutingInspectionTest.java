package io.switchhead.tools.inspect;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.savedmodel.TrainedRun;
import io.switchhead.testing.Seeded;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import javax.imageio.ImageIO;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;

/**
 * The routing inspection on a tiny trained run (2 layers; SwitchHead H=2, E=3, k=2; a sigma-MoE
 * feed-forward E=4, k=2; context 16): its numbers, checked against the graph's own top-k, and its
 * pictures, decoded and parsed.
 */
class RoutingInspectionTest {

  /** 86 bytes: five full windows of 16 and a padded one of 6; spaces, a new line and punctuation for the labels. */
  static final String TEXT = "the quick brown fox jumps over the lazy dog.\nPack my box with five dozen liquor jugs!!";

  @Seeded private static Random random;
  @TempDir static Path dir;
  static Path run;
  static Path text;
  static RoutingSummary summary;
  static String table;

  /** A trained run, the text file, and the inspection of its routing on {@link #TEXT} as a table. */
  record Inspected(Path run, Path text, RoutingSummary summary, String table) {}

  /** Trains {@code model} for {@code steps} in {@code dir} and inspects its routing on {@link #TEXT}, pictures in dir/pictures. */
  static Inspected trainAndInspect(ModelConfig model, Path dir, Random random, int steps) throws Exception {
    Path run = TrainedRun.train(model, dir, random, steps).run();
    Path text = Files.writeString(dir.resolve("text.txt"), TEXT);
    StringWriter out = new StringWriter();
    RoutingSummary summary = RoutingInspection.run(run, text, dir.resolve("pictures"), new PrintWriter(out), false, w -> {
      throw new AssertionError("no checkpoint is damaged: " + w);
    });
    return new Inspected(run, text, summary, out.toString());
  }

  @BeforeAll
  static void trainAndInspect() throws Exception {
    ModelConfig model = new ModelConfig(256, 16, 2, 16, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.0),
        new SigmaMoeConfig(4, 8, 2, 0.0, 1e-3), 0.0, 0.7);
    Inspected inspected = trainAndInspect(model, dir, random, 2);
    run = inspected.run();
    text = inspected.text();
    summary = inspected.summary();
    table = inspected.table();
    // Kept for a person to look at (the temporary directory goes when the class ends).
    Path kept = Files.createDirectories(Path.of("target", "routing-pictures"));
    for (Path picture : summary.pictures()) {
      Files.copy(picture, kept.resolve(picture.getFileName()), StandardCopyOption.REPLACE_EXISTING);
    }
  }

  @Test
  void everyHeadOfEverySelectionCountsTokensTimesK() {
    // 2 layers x (sel_v, sel_o: 2 heads each; ff sel: 1 head)
    assertEquals(10, summary.usage().size());
    assertEquals(TEXT.length(), summary.tokens());
    for (HeadUsage u : summary.usage()) {
      assertEquals((long) TEXT.length() * u.site().selection().k(), u.total(), u.site().name() + " head " + u.head());
      assertEquals(1.0, u.shares().stream().sum(), 1e-12);
      assertTrue(u.entropy() >= 0 && u.entropy() <= Math.log(u.site().selection().experts()) + 1e-12);
      assertEquals(Math.log(u.site().selection().experts()) - u.entropy(), u.unevenness(), 1e-12);
    }
  }

  @Test
  void countsAreTheGraphsOwnTopKChoices() {
    List<long[][]> expected = GraphTopK.counts(run, TEXT.getBytes(StandardCharsets.US_ASCII));
    List<String> names = summary.usage().stream().map(u -> u.site().name()).distinct().toList();
    assertEquals(expected.size(), names.size());
    int row = 0;
    for (int s = 0; s < names.size(); s++) {
      for (long[] perHead : expected.get(s)) {
        HeadUsage u = summary.usage().get(row++);
        assertEquals(names.get(s), u.site().name());
        assertArrayEquals(perHead, u.counts().toArray(), u.site().name() + " head " + u.head());
      }
    }
  }

  @Test
  void theTableHasARowPerLayerSelectionAndHead() {
    List<String> lines = table.lines().toList();
    assertEquals(3 + summary.usage().size(), lines.size(), table);
    String choices = Integer.toString(2 * TEXT.length()); // k = 2 everywhere
    assertTrue(lines.get(3).matches(" +0  attention +sel_v +0 +" + choices + " .*"), lines.get(3));
    assertTrue(lines.get(lines.size() - 1).matches(" +1  ff +sel +0 +" + choices + " .*"), lines.get(lines.size() - 1));
  }

  @Test
  void theJsonHoldsTheSameNumbers() throws Exception {
    StringWriter out = new StringWriter();
    RoutingInspection.run(run, text, dir.resolve("pictures-json"), new PrintWriter(out), true, w -> {});
    JsonNode json = JsonMapper.builder().build().readTree(out.toString());
    assertEquals(TEXT.length(), json.get("tokens").asInt());
    JsonNode first = json.get("selections").get(0);
    assertEquals("layers/0/attention/sel_v", first.get("name").asText());
    assertEquals(3, first.get("experts").asInt());
    List<Long> counts = new ArrayList<>();
    first.get("perHead").get(1).get("counts").forEach(c -> counts.add(c.asLong()));
    assertEquals(summary.usage().get(1).counts().asList(), counts);
    assertEquals(summary.usage().get(1).unevenness(), first.get("perHead").get(1).get("unevenness").asDouble(), 1e-12);
  }

  @Test
  void picturesDecodeAsPngAndParseAsSvgWithTheirAxisLabels() throws Exception {
    List<String> names = summary.pictures().stream().map(p -> p.getFileName().toString()).toList();
    // per layer: a heatmap, a histogram per attention head and one of the feed-forward; PNG and SVG each
    assertEquals(2 * 2 * 4, names.size(), names.toString());
    assertTrue(names.contains("layer-01-routing.svg") && names.contains("layer-00-attention-head-1-usage.png")
        && names.contains("layer-01-ff-usage.svg"), names.toString());
    for (Path picture : summary.pictures()) {
      if (picture.toString().endsWith(".png")) {
        BufferedImage image = ImageIO.read(picture.toFile());
        assertNotNull(image, picture + " does not decode as an image");
        assertTrue(image.getWidth() >= 400 && image.getHeight() >= 300, picture + ": " + image.getWidth() + "x" + image.getHeight());
      } else {
        String words = svgText(picture);
        boolean heatmap = picture.toString().endsWith("routing.svg");
        List<String> labels = heatmap ? List.of(RoutingHeatmap.TOKEN_AXIS, RoutingHeatmap.EXPERT_AXIS, "sel_o h1 e2", "values (sel_v)")
            : List.of(UsageHistogram.EXPERT_AXIS, UsageHistogram.SHARE_AXIS, "even use");
        for (String label : labels) {
          assertTrue(words.contains(label), picture + " lacks '" + label + "': " + words);
        }
      }
    }
    // The token axis reads the text: its first characters, a space shown as a dot, the new line as an arrow.
    String heatmap = svgText(dir.resolve("pictures/layer-00-routing.svg"));
    assertTrue(heatmap.contains("t h e \u00b7 q u i c k"), heatmap);
    assertTrue(heatmap.contains(". \u21b5 P a c k"), heatmap);
  }

  @Test
  void aTextThatIsNotTextIsRefusedBeforeAnythingIsWritten() throws Exception {
    Path binary = Files.write(dir.resolve("binary.txt"), new byte[] {1, 0, 2});
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RoutingInspection.run(run, binary, dir.resolve("never"), new PrintWriter(new StringWriter()), false, w -> {}));
    assertTrue(e.getMessage().startsWith(binary + " is not text: a NUL byte at offset 1"), e.getMessage());
    assertTrue(Files.notExists(dir.resolve("never")));
  }

  @Test
  void anXlModelRunsEachWindowAsAFirstChunkSoValuesChooseOncePerToken(@TempDir Path xlDir) throws Exception {
    ModelConfig xl = new ModelConfig(256, 16, 1, 16, new SwitchHeadConfig(2, 3, 2, 8, Positional.XL, 0.0),
        new DenseFeedForwardConfig(8), 0.0, 0.7);
    Path xlRun = TrainedRun.train(xl, xlDir, random, 1).run();
    RoutingSummary xlSummary = RoutingInspection.run(xlRun, text, xlDir.resolve("pictures"), new PrintWriter(new StringWriter()), false,
        w -> {});
    assertEquals(List.of("layers/0/attention/sel_v", "layers/0/attention/sel_v", "layers/0/attention/sel_o", "layers/0/attention/sel_o"),
        xlSummary.usage().stream().map(u -> u.site().name()).toList());
    for (HeadUsage u : xlSummary.usage()) {
      assertEquals(2L * TEXT.length(), u.total(), u.site().name());
    }
    List<long[][]> expected = GraphTopK.counts(xlRun, TEXT.getBytes(StandardCharsets.US_ASCII));
    assertArrayEquals(expected.get(0)[1], xlSummary.usage().get(1).counts().toArray());
    assertArrayEquals(expected.get(1)[0], xlSummary.usage().get(2).counts().toArray());
  }

  /** The text of an SVG's text elements, in document order, separated by spaces. */
  static String svgText(Path svg) throws Exception {
    DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
    factory.setNamespaceAware(true);
    // JFreeSVG names the SVG 1.1 DTD; a test must not fetch it (and needs no validation).
    factory.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
    Document doc = factory.newDocumentBuilder().parse(svg.toFile());
    assertEquals("svg", doc.getDocumentElement().getLocalName());
    StringBuilder words = new StringBuilder();
    var texts = doc.getElementsByTagNameNS("*", "text");
    for (int i = 0; i < texts.getLength(); i++) {
      words.append(texts.item(i).getTextContent()).append(' ');
    }
    return words.toString();
  }
}
