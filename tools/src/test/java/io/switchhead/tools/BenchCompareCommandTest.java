package io.switchhead.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.DenseAttentionConfig;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.testing.Seeded;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code bench compare} end to end on two tiny models: the tables, the charts and the quality runs. */
class BenchCompareCommandTest {

  @Seeded private Random random;

  @Test
  void comparesTwoConfigsInOneRunAndWritesTablesAndCharts(@TempDir Path dir) throws Exception {
    // Large enough that activations (logits: 2 x 128 x 256 floats) reach the 256 KiB from which oneDNN's
    // allocator counts its bytes in use (StepTrace): the step memory is then measured, not "not traced".
    ModelConfig moe = new ModelConfig(256, 128, 1, 128, new SwitchHeadConfig(2, 3, 2, 16, Positional.ROPE, 0), new DenseFeedForwardConfig(32), 0, 0.7);
    ModelConfig dense = new ModelConfig(256, 128, 1, 128, new DenseAttentionConfig(6, 8, Positional.ROPE), new DenseFeedForwardConfig(32), 0, 0.7);
    Path moeFile = Files.writeString(dir.resolve("moe.json"), ConfigJson.write(moe));
    Path denseFile = Files.writeString(dir.resolve("dense.json"), ConfigJson.write(dense));
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < 3000; i++) {
      text.append((char) ('a' + random.nextInt(8)));
    }
    Path corpus = Files.writeString(dir.resolve("corpus.txt"), text);
    Path out = dir.resolve("figures");

    CliRun run = CliRun.of("bench", "compare", "--models", moeFile + "," + denseFile, "--reference", "dense", "--batch", "2", "--steps", "1",
        "--repeats", "2", "--no-xla", "--profile", "--inference", "2", "--quality", "3", "--data", corpus.toString(), "--out", out.toString());

    assertEquals(0, run.code(), run.out() + run.err());
    String table = Files.readString(out.resolve("compare.md"));
    assertTrue(table.contains("Ratios are to dense."), table);
    for (String model : List.of("moe", "dense")) {
      Matcher row = Pattern.compile("\\| " + model + " \\| plain \\| ([0-9,]+) \\| [0-9.]+ \\([0-9.]+-[0-9.]+\\) \\| ([0-9.]+) \\|.* \\| ([0-9.]+) MB \\| ([0-9.]+) \\| .* \\|")
          .matcher(table);
      assertTrue(row.find(), model + "'s step row in\n" + table);
      long stepMemoryTenthsOfMb = Math.round(Double.parseDouble(row.group(3)) * 10);
      assertTrue(stepMemoryTenthsOfMb > 0, model + "'s step memory is measured: " + row.group());
      assertTrue(Pattern.compile("\\| " + model + " \\| [0-9]\\.[0-9]{4} \\| [0-9.]+ \\|").matcher(table).find(), model + "'s validation bpc in\n" + table);
      assertTrue(Pattern.compile("\\| " + model + " \\| [0-9,.]+ tok/s \\| [0-9,.]+ tok/s \\| [0-9,]+ tok/s \\| [0-9,]+ tok/s \\| [0-9.]+ \\|").matcher(table).find(),
          model + "'s inference row in\n" + table);
    }
    assertTrue(table.contains("| dense | plain | ") && table.matches("(?s).*\\| dense \\| plain \\| [0-9,]+ \\| [0-9.]+ \\([0-9.]+-[0-9.]+\\) \\| 1\\.00 \\|.*"),
        "the reference's own ratio is 1: " + table);
    assertTrue(table.contains("moe, plain step traced: ") && table.contains("| MatMul | "), "the profile: " + table);
    Matcher overlap = Pattern.compile("Over the step's ([0-9]+) ms, no node ran for ([0-9.]+)% of the time, one node for ([0-9.]+)%,"
        + " two or more for ([0-9.]+)%\\.").matcher(table);
    assertTrue(overlap.find(), "how many nodes ran at once, in\n" + table);
    double shares = IntStream.rangeClosed(2, 4).mapToDouble(g -> Double.parseDouble(overlap.group(g))).sum();
    assertTrue(Math.abs(shares - 100) < 0.2 && Long.parseLong(overlap.group(1)) > 0, overlap.group());
    // Two repetitions: the limit measured before and after each one's steps.
    assertTrue(table.contains("the best of 4 measurements before and after each repetition"), table);
    Matcher share = Pattern.compile("\\| moe \\| plain \\|.*? \\| ([0-9.]+)% \\(([0-9.]+)-([0-9.]+)%\\) \\|").matcher(table);
    assertTrue(share.find(), "moe's share of the limit, median (min-max), in\n" + table);
    double median = Double.parseDouble(share.group(1));
    assertTrue(median > 0 && Double.parseDouble(share.group(2)) <= median && median <= Double.parseDouble(share.group(3)), share.group());
    for (String chart : List.of("compare-time", "compare-memory", "compare-bpc")) {
      assertTrue(Files.size(out.resolve(chart + ".png")) > 1000, chart);
      assertTrue(Files.readString(out.resolve(chart + ".svg")).contains("<svg"), chart);
    }
  }

  @Test
  void aReferenceThatIsNotComparedIsNamed() {
    CliRun run = CliRun.of("bench", "compare", "--models", "switchhead-tiny", "--reference", "dense-tiny", "--no-xla").stripped();

    assertEquals(2, run.code(), "a usage error: " + run.out() + run.err());
    assertTrue(run.err().contains("the reference dense-tiny is not among the models compared ([switchhead-tiny])"), run.err());
  }
}
