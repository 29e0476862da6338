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
import io.switchhead.testing.TestPython;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bench hlo} end to end: a tiny XL SwitchHead model's compiled step dumped as HLO, then
 * compiled and run by JAX's newer XLA on this CPU through {@code hlo_bench.py}, on the arguments
 * TensorFlow Java ran it with: it must give TensorFlow's loss.
 */
class BenchHloCommandTest {

  private static final Path SCRIPT = Path.of("src/main/python/hlo_bench.py");

  @Test
  void theDumpedStepCompilesAndRunsInJaxAndGivesTensorFlowsLoss(@TempDir Path dir) throws Exception {
    ModelConfig tiny = new ModelConfig(64, 32, 1, 16, new SwitchHeadConfig(2, 3, 2, 8, Positional.XL, 0), new DenseFeedForwardConfig(32), 0, 0.7);
    Path config = Files.writeString(dir.resolve("tiny-xl.json"), ConfigJson.write(tiny));
    Path out = dir.resolve("hlo");

    CliRun run = CliRun.of("bench", "hlo", out.toString(), "--models", config.toString(), "--batch", "2", "--values");

    assertEquals(0, run.code(), run.out() + run.err());
    JsonNode model = new ObjectMapper().readTree(out.resolve("manifest.json").toFile()).get("models").get(0);
    assertEquals("tiny-xl", model.get("name").asText());
    assertTrue(Files.size(out.resolve(model.get("module").asText())) > 1000, "the module text is written");
    JsonNode args = model.get("arguments");
    assertEquals(List.of("inputs", "targets", "seed"), List.of(args.get(0).get("what").asText(), args.get(1).get("what").asText(),
        args.get(2).get("what").asText()));
    assertEquals("embedding", args.get(3).get("path").asText());
    assertEquals("memory", args.get(args.size() - 1).get("what").asText(), "an XL model's memory is the last argument");
    double tfLoss = model.get("tensorflow").get("loss").asDouble();

    Path results = dir.resolve("jax.json");
    TestPython.run(List.of(TestPython.interpreter().toString(), SCRIPT.toString(), out.toString(), "--steps", "2", "--json", results.toString()), 120)
        .requireSuccess();

    JsonNode r = new ObjectMapper().readTree(results.toFile()).get("results").get(0);
    assertEquals("cpu", r.get("backend").asText());
    assertTrue(r.get("valuesUsed").asBoolean());
    double ms = r.get("medianStepMs").asDouble();
    assertTrue(Double.isFinite(ms) && ms > 0, "median step " + ms + " ms");
    double loss = r.get("loss").asDouble();
    // The same HLO on the same arguments, another XLA: equal but for float reassociation.
    assertEquals(tfLoss, loss, 1e-4 * tfLoss, "JAX's loss against TensorFlow Java's");
    // Fresh parameters predict nearly uniformly: ln(vocab), plus a little for the spread of their random logits.
    assertTrue(loss > Math.log(64) - 0.1 && loss < Math.log(64) + 1, "a fresh model's loss " + loss + " against ln(64) = " + Math.log(64));
  }

  @Test
  void badModelsAndAnOutDirThatIsAFileAreRefusedNamingThem(@TempDir Path dir) throws Exception {
    CliRun unknown = CliRun.of("bench", "hlo", dir.resolve("out").toString(), "--models", "no-such-model");
    assertEquals(2, unknown.code(), unknown.err());
    assertTrue(unknown.err().contains("unknown preset 'no-such-model'"), unknown.err());

    Path file = Files.writeString(dir.resolve("a-file"), "x");
    CliRun notADir = CliRun.of("bench", "hlo", file.toString(), "--models", "switchhead-tiny");
    assertEquals(1, notADir.code(), notADir.err());
    assertTrue(notADir.err().contains("cannot create OUT_DIR " + file), notADir.err());
  }

  @Test
  void theScriptRefusesADirectoryWithoutAManifest(@TempDir Path dir) {
    TestPython.Run run = TestPython.run(List.of(TestPython.interpreter().toString(), SCRIPT.toString(), dir.toString()), 60);
    assertEquals(1, run.exitCode(), run.stderr());
    assertTrue(run.stderr().contains("no manifest.json in " + dir), run.stderr());
  }
}
