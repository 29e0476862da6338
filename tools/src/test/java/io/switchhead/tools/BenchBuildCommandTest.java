package io.switchhead.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code bench build}: one table row per model, with both scopes' forward times and the training start-up. */
class BenchBuildCommandTest {

  @Test
  void timesEachModelsForwardWithBothScopesAndItsTrainingStartUp() {
    CliRun run = CliRun.of("bench", "build", "--models", "switchhead-tiny,dense-tiny", "--repeats", "1", "--batch", "1");
    assertEquals(0, run.code(), run.err());
    List<String[]> rows = run.out().lines().filter(l -> l.startsWith("| ") && !l.startsWith("| model"))
        .map(l -> Arrays.stream(l.split("\\|")).map(String::strip).skip(1).toArray(String[]::new)).toList();
    assertEquals(List.of("switchhead-tiny", "dense-tiny"), rows.stream().map(r -> r[0]).toList(), run.out());
    for (String[] row : rows) {
      assertTrue(Integer.parseInt(row[1]) > 50, "forward ops: " + row[1]);
      double theirs = Double.parseDouble(row[2]);
      double ours = Double.parseDouble(row[3]);
      assertEquals(ours / theirs, Double.parseDouble(row[4].replace("x", "")), 0.02 + 0.01 * ours / theirs, String.join(" | ", row));
      assertTrue(Double.parseDouble(row[5]) > 0, "start-up: " + row[5]);
    }
    assertTrue(Integer.parseInt(rows.get(0)[1]) > Integer.parseInt(rows.get(1)[1]), "SwitchHead's forward has more ops than dense's");
    assertTrue(run.out().contains(" cores"), "the CPU is named: " + run.out());
  }

  @Test
  void refusesZeroRepeatsNamingTheOption() {
    CliRun run = CliRun.of("bench", "build", "--models", "dense-tiny", "--repeats", "0");
    assertEquals(2, run.code());
    assertTrue(run.err().contains("--repeats"), run.err());
  }
}
