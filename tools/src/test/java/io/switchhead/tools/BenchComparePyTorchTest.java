package io.switchhead.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.accounting.ParameterCount;
import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.DenseAttentionConfig;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.testing.TestPython;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bench compare --pytorch}: the eager PyTorch reference ({@code pytorch_step.py}) timed beside
 * the project's step, with the test environment's torch; and the script's refusal of a model whose
 * parameter count is not the project's.
 */
class BenchComparePyTorchTest {

  private static final Path SCRIPT = Path.of("src/main/python/pytorch_step.py");

  /** XL, as the four presets of issue 16: SwitchHead without position biases, dense with Transformer-XL's u and v. */
  private static final ModelConfig MOE =
      new ModelConfig(256, 64, 1, 32, new SwitchHeadConfig(2, 3, 2, 16, Positional.XL, 0), new DenseFeedForwardConfig(32), 0.1, 0.7);

  private static final ModelConfig DENSE =
      new ModelConfig(256, 64, 1, 32, new DenseAttentionConfig(6, 8, Positional.XL), new DenseFeedForwardConfig(32), 0.1, 0.7);

  @Test
  void timesEachModelInPyTorchBesideItsPlainStep(@TempDir Path dir) throws Exception {
    Path moe = Files.writeString(dir.resolve("moe.json"), ConfigJson.write(MOE));
    Path dense = Files.writeString(dir.resolve("dense.json"), ConfigJson.write(DENSE));

    CliRun run = CliRun.of("bench", "compare", "--models", moe + "," + dense, "--batch", "2", "--steps", "2", "--repeats", "2", "--no-xla",
        "--pytorch", TestPython.interpreter().toString(), "--out", dir.resolve("figures").toString());

    assertEquals(0, run.code(), run.out() + run.err());
    assertTrue(Files.readString(dir.resolve("figures/compare-time.svg")).contains("PyTorch (eager)"), "the time chart has PyTorch's bars");
    for (Map.Entry<String, ModelConfig> model : Map.of("moe", MOE, "dense", DENSE).entrySet()) {
      long parameters = ParameterCount.of(model.getValue()).total();
      Matcher row = Pattern.compile("\\| " + model.getKey() + " \\| ([0-9,]+) \\| ([0-9.]+) \\| ([0-9.]+) \\(([0-9.]+)-([0-9.]+)\\) \\| ([0-9.]+) \\| "
          + "([0-9.]+) \\| ([0-9,.]+) MB \\|").matcher(run.out());
      assertTrue(row.find(), model.getKey() + "'s PyTorch row in\n" + run.out());
      assertEquals(parameters, Long.parseLong(row.group(1).replace(",", "")), "the project's count: " + row.group());
      for (int g = 2; g <= 8; g++) {
        assertTrue(Double.parseDouble(row.group(g).replace(",", "")) > 0, "column " + g + " is positive: " + row.group());
      }
      // At initialisation about ln(256) = 5.5, plus what random logits of unit variance add.
      double loss = Double.parseDouble(row.group(7));
      assertTrue(loss > 5 && loss < 7, "the PyTorch model's loss at init: " + row.group());
      assertEquals(2, Pattern.compile("PyTorch " + model.getKey() + ": [0-9.]+ ms/step, " + String.format(java.util.Locale.ROOT, "%,d", parameters)
          + " parameters \\(checked\\)").matcher(run.out()).results().count(), "one checked run per repetition:\n" + run.out());
    }
  }

  @Test
  void theScriptRefusesAModelOfAnotherParameterCount(@TempDir Path dir) throws Exception {
    Path config = Files.writeString(dir.resolve("moe.json"), ConfigJson.write(MOE));
    long parameters = ParameterCount.of(MOE).total();

    TestPython.Run run = TestPython.run(List.of(TestPython.interpreter().toString(), SCRIPT.toString(), config.toString(), "--steps", "1",
        "--expect-params", Long.toString(parameters + 1)), 120);

    assertEquals(2, run.exitCode(), run.stdout() + run.stderr());
    String both = String.format(java.util.Locale.ROOT, "has %,d parameters but --expect-params is %,d", parameters, parameters + 1);
    assertTrue(run.stderr().contains(both), "names both counts: " + run.stderr());
    assertTrue(run.stdout().isEmpty(), "no figures for another model: " + run.stdout());
  }

  @Test
  void aPythonThatCannotRunIsNamedWithoutAStackTrace(@TempDir Path dir) throws Exception {
    Path moe = Files.writeString(dir.resolve("moe.json"), ConfigJson.write(MOE));
    Path missing = dir.resolve("no-such-python");

    CliRun run = CliRun.of("bench", "compare", "--models", moe.toString(), "--batch", "1", "--steps", "1", "--repeats", "1", "--no-xla",
        "--pytorch", missing.toString()).stripped();

    assertEquals(1, run.code(), run.out() + run.err());
    assertTrue(run.err().startsWith("switchhead bench compare --pytorch: cannot start " + missing + " for the PyTorch reference of moe"), run.err());
    assertTrue(!run.err().contains("\tat "), "no stack trace: " + run.err());
  }
}
