package io.switchhead.tools.inspect;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.switchhead.graph.config.DenseAttentionConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.PeerConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.testing.Seeded;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The routing inspection of a PEER model (1 layer, dense attention; PEER N = 17^2 = 289 experts,
 * more than the inspection shows one by one, h 2, k 3; context 16): its heads counted together,
 * checked against a brute-force retrieval from the graph's own sub-key scores, and summarised.
 */
class PeerRoutingInspectionTest {

  private static final PeerConfig PEER = new PeerConfig(289, 2, 3, 4, PeerConfig.Activation.RELU, 0.9, 1e-3);

  @Seeded private static Random random;
  @TempDir static Path dir;
  static RoutingInspectionTest.Inspected inspected;
  static RoutingSummary summary;

  @BeforeAll
  static void trainAndInspect() throws Exception {
    inspected = RoutingInspectionTest.trainAndInspect(
        new ModelConfig(256, 16, 1, 16, new DenseAttentionConfig(2, 8, Positional.ROPE), PEER, 0.0, 0.7), dir, random, 1);
    summary = inspected.summary();
  }

  @Test
  void theHeadsAreCountedTogetherAsABruteForceRetrievalChooses() {
    assertEquals(1, summary.usage().size());
    HeadUsage u = summary.usage().get(0);
    assertEquals("layers/0/ff/keys", u.site().name());
    assertEquals(List.of(1, 289, 6), List.of(u.site().selection().heads(), u.site().selection().experts(), u.site().selection().k()));
    int tokens = RoutingInspectionTest.TEXT.length();
    assertEquals((long) tokens * PEER.heads() * PEER.k(), u.total());
    long[] expected = GraphTopK.peerCounts(inspected.run(), RoutingInspectionTest.TEXT.getBytes(StandardCharsets.US_ASCII), PEER.k());
    assertArrayEquals(expected, u.counts().toArray());
    long used = java.util.Arrays.stream(expected).filter(c -> c > 0).count();
    assertEquals(used, u.usedExperts());
    assertEquals(used / 289.0, u.usedShare(), 1e-12);
    assertEquals(Math.log(289) - u.entropy(), u.unevenness(), 1e-12);
    int[] most = u.mostChosen(5);
    for (int i = 1; i < most.length; i++) {
      assertTrue(expected[most[i - 1]] >= expected[most[i]], "most chosen first: " + java.util.Arrays.toString(most));
    }
    assertEquals(java.util.Arrays.stream(expected).max().orElseThrow(), expected[most[0]]);
  }

  @Test
  void theTableSummarisesTheWideSelectionInOneRow() {
    List<String> lines = inspected.table().lines().toList();
    assertEquals(5, lines.size(), inspected.table());
    assertTrue(lines.get(2).startsWith("a selection of more than 256 experts (PEER's"), lines.get(2));
    HeadUsage u = summary.usage().get(0);
    String row = lines.get(4);
    assertTrue(row.matches(" +0  ff +keys +0 +" + u.total() + " .*"), row);
    assertTrue(row.contains(String.format(java.util.Locale.ROOT, "used %d of 289 experts (%.2f%%)", u.usedExperts(), 100 * u.usedShare())), row);
    assertTrue(row.contains("most chosen: " + u.mostChosen(1)[0] + " ("), row);
    assertTrue(row.contains("experts by times chosen: 0: " + (289 - u.usedExperts()) + "; 1: "), row);
  }

  @Test
  void theJsonGivesTheMostChosenAndTheExpertsByTimesChosenNotAColumnPerExpert() throws Exception {
    StringWriter out = new StringWriter();
    RoutingInspection.run(inspected.run(), inspected.text(), dir.resolve("pictures-json"), new PrintWriter(out), true, w -> {});
    JsonNode head = JsonMapper.builder().build().readTree(out.toString()).get("selections").get(0).get("perHead").get(0);
    HeadUsage u = summary.usage().get(0);
    assertFalse(head.has("counts") || head.has("shares"), head.toString());
    assertEquals(u.usedExperts(), head.get("usedExperts").asLong());
    assertEquals(Math.min(20, u.usedExperts()), head.get("mostChosen").size());
    assertEquals(u.mostChosen(1)[0], head.get("mostChosen").get(0).get("expert").asInt());
    long experts = 0;
    for (JsonNode bin : head.get("timesChosen")) {
      experts += bin.get("experts").asLong();
    }
    assertEquals(289, experts, "every expert in one bin");
    JsonNode idle = head.get("timesChosen").get(0);
    assertEquals(List.of(0L, 0L, 289 - u.usedExperts()), List.of(idle.get("from").asLong(), idle.get("to").asLong(), idle.get("experts").asLong()));
    JsonNode last = head.get("timesChosen").get(head.get("timesChosen").size() - 1);
    long most = u.counts().get(u.mostChosen(1)[0]);
    assertTrue(last.get("from").asLong() <= most && most <= last.get("to").asLong(), "the last bin holds the most chosen (" + most + "): " + last);
  }

  @Test
  void itsPictureCountsExpertsByTimesChosenAndNoHeatmapListsAMillionRows() throws Exception {
    List<String> names = summary.pictures().stream().map(p -> p.getFileName().toString()).toList();
    assertEquals(List.of("layer-00-ff-usage.png", "layer-00-ff-usage.svg"), names, "no heatmap: the layer's one selection is too wide");
    assertNotNull(ImageIO.read(dir.resolve("pictures/layer-00-ff-usage.png").toFile()));
    String svg = RoutingInspectionTest.svgText(dir.resolve("pictures/layer-00-ff-usage.svg")).replaceAll("\\s+", " "); // a wrapped title
    for (String label : List.of(TimesChosenChart.TIMES_AXIS, TimesChosenChart.EXPERTS_AXIS, "PEER experts (keys)", "289 experts")) {
      assertTrue(svg.contains(label), "the picture lacks '" + label + "': " + svg);
    }
  }
}
