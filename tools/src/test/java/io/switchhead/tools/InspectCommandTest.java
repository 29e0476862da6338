package io.switchhead.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.savedmodel.SavedModelExport;
import io.switchhead.savedmodel.TrainedRun;
import io.switchhead.testing.Seeded;
import io.switchhead.testing.TestPython;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code switchhead inspect} in-process on each kind of target: a tiny trained run and its export,
 * a config file, a preset, and a target that is none of them.
 */
class InspectCommandTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path dir;
  @Seeded private static Random trainRandom;
  private static Path run;
  private static Path export;
  private static SavedModelExport.Description exported;
  private static final ModelConfig MODEL = new ModelConfig(256, 16, 2, 8, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.0),
      new DenseFeedForwardConfig(8), 0.0, 0.7);

  /** A run with one checkpoint, and its export. */
  @BeforeAll
  static void trainAndExport() {
    run = TrainedRun.train(MODEL, dir, trainRandom, 1).run();
    export = dir.resolve("export");
    exported = SavedModelExport.export(run, OptionalLong.empty(), export, false, w -> {});
  }

  private static JsonNode json(String... args) throws Exception {
    List<String> all = new ArrayList<>(List.of("inspect", "--json"));
    all.addAll(List.of(args));
    CliRun ran = CliRun.of(all.toArray(new String[0]));
    assertEquals(0, ran.code(), ran.err());
    return JSON.readTree(ran.out());
  }

  @Test
  void theSavedModelViewListsExactlyTheSignaturesTheExportWrote() throws Exception {
    JsonNode report = json(export.toString());
    assertEquals("SAVED_MODEL", report.get("kind").asText());
    JsonNode meta = report.get("savedModel").get("metaGraphs").get(0);
    assertEquals(List.of(exported.tag()), JSON.convertValue(meta.get("tags"), List.class));
    TreeSet<String> shown = new TreeSet<>();
    for (JsonNode s : meta.get("signatures")) {
      shown.add(s.get("key").asText());
      SavedModelExport.SignatureDescription written = exported.signatures().get(s.get("key").asText());
      assertEquals(new TreeSet<>(written.inputs()), keys(s.get("inputs")), s.get("key").asText());
      assertEquals(new TreeSet<>(written.outputs()), keys(s.get("outputs")), s.get("key").asText());
      assertEquals(written.method(), s.get("method").asText());
    }
    assertEquals(new TreeSet<>(exported.signatures().keySet()), shown);
    // Every parameter is a float32 variable of 4 bytes a scalar.
    long bytes = 0;
    for (JsonNode v : meta.get("variables")) {
      assertEquals("DT_FLOAT", v.get("dtype").asText(), v.toString());
      long elements = 1;
      for (JsonNode d : v.get("shape")) {
        elements *= d.asLong();
      }
      assertEquals(4 * elements, v.get("bytes").asLong(), v.toString());
      bytes += 4 * elements;
    }
    assertEquals(bytes, meta.get("variableBytes").asLong());
    assertEquals(report.get("costs").get("total").get("builtParameters").asLong() * 4, bytes);

    CliRun text = CliRun.of("inspect", export.toString()).stripped();
    assertTrue(text.out().contains("  tags: " + exported.tag()), text.out());
    for (String key : exported.signatures().keySet()) {
      assertTrue(text.out().contains("  signature '" + key + "' (method "), key + " in " + text.out());
    }
  }

  @Test
  void theSavedModelViewAgreesWithSavedModelCli() throws Exception {
    JsonNode meta = json(export.toString()).get("savedModel").get("metaGraphs").get(0);
    String cli = TestPython.run(List.of(TestPython.program("saved_model_cli").toString(), "show", "--dir", export.toString(), "--all"), 120)
        .requireSuccess();
    for (JsonNode s : meta.get("signatures")) {
      assertTrue(cli.contains("signature_def['" + s.get("key").asText() + "']"), s.get("key").asText());
      for (JsonNode t : s.get("inputs")) {
        assertTrue(cli.contains("inputs['" + t.get("key").asText() + "'] tensor_info:"), t.toString());
        assertTrue(cli.contains("name: " + t.get("name").asText()), t.toString());
      }
    }
  }

  private static TreeSet<String> keys(JsonNode tensors) {
    TreeSet<String> keys = new TreeSet<>();
    tensors.forEach(t -> keys.add(t.get("key").asText()));
    return keys;
  }

  @Test
  void aRunDirectoryAndAConfigFileAreInspectedAsTheirModel() throws Exception {
    JsonNode ofRun = json(run.toString());
    assertEquals("RUN_DIRECTORY", ofRun.get("kind").asText());
    Path config = Files.writeString(dir.resolve("model.json"), ConfigJson.write(MODEL));
    JsonNode ofFile = json(config.toString());
    assertEquals("CONFIG_FILE", ofFile.get("kind").asText());
    assertEquals(ofRun.get("config"), ofFile.get("config"));
    assertEquals(ofRun.get("costs"), ofFile.get("costs"));
    // Two layers, between the embedding and the output.
    assertEquals(4, ofFile.get("costs").get("rows").size());
  }

  @Test
  void thePresetTableNamesTheBaselineAndTheXlaReportComesFromTheKernelRegistry() throws Exception {
    CliRun ran = CliRun.of("inspect", "switchhead-tiny").stripped();
    assertEquals(0, ran.code(), ran.err());
    assertTrue(ran.out().contains("versus its matched dense baseline dense-tiny: parameters 1.000"), ran.out());
    assertTrue(ran.out().contains("layers/3 "), ran.out());
    JsonNode xla = json("switchhead-tiny").get("xla");
    assertTrue(xla.get("probe").asText().startsWith("work"), xla.toString());
    Map<String, Integer> compiled = JSON.convertValue(xla.get("compiledTypes"), Map.class);
    assertTrue(compiled.containsKey("MatMul") && compiled.containsKey("TopKV2"), compiled.toString());
    // Ref variables and their assignments stay outside XLA, as TFJAVA.md says.
    Map<String, Integer> stopping = JSON.convertValue(xla.get("stoppingTypes"), Map.class);
    assertTrue(stopping.containsKey("VariableV2"), stopping.toString());
    for (Iterator<JsonNode> it = xla.get("stopping").elements(); it.hasNext(); ) {
      assertTrue(stopping.containsKey(it.next().get("type").asText()));
    }
  }

  /** --routing: the run's inspection and its routing of a text in one JSON document, and the pictures written. */
  @Test
  void routingARunOnATextAddsItsUsageAndPictures() throws Exception {
    Path text = Files.writeString(dir.resolve("text.txt"), "the quick brown fox jumps over the lazy dog");
    Path pictures = dir.resolve("routing-pictures");
    JsonNode both = json(run.toString(), "--routing", text.toString(), "--routing-dir", pictures.toString());
    assertEquals("RUN_DIRECTORY", both.get("inspection").get("kind").asText());
    JsonNode routing = both.get("routing");
    assertEquals(43, routing.get("tokens").asInt());
    // Two layers, each a value and an output selection.
    assertEquals(4, routing.get("selections").size());
    for (JsonNode selection : routing.get("selections")) {
      for (JsonNode head : selection.get("perHead")) {
        long total = 0;
        for (JsonNode c : head.get("counts")) {
          total += c.asLong();
        }
        assertEquals(43L * selection.get("k").asInt(), total, selection.get("name") + " head " + head.get("head"));
      }
    }
    try (var files = Files.list(pictures)) {
      assertTrue(files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith("-routing.png")).count() == 2, "a heatmap per layer");
    }
    CliRun preset = CliRun.of("inspect", "switchhead-tiny", "--routing", text.toString()).stripped();
    assertEquals(2, preset.code());
    assertTrue(preset.err().contains("--routing needs a run directory as TARGET"), preset.err());
  }

  @Test
  void aTargetThatIsNoneOfTheKindsIsOneLineNamingThem() {
    CliRun ran = CliRun.of("inspect", dir.resolve("nothing-here").toString()).stripped();
    assertEquals(2, ran.code());
    assertTrue(ran.err().startsWith("switchhead inspect: '" + dir.resolve("nothing-here") + "' is none of: a preset name (known: ["), ran.err());
    assertTrue(!ran.err().contains("\n"), ran.err());
  }
}
