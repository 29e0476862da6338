package io.switchhead.tools.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The matmul benchmark's options, on shapes small enough to run in a test. */
class ConditionalMatmulBenchmarkTest {

  private static final String[] TINY = {"rows=40", "dIn=8", "dOut=4", "warmups=0", "repeats=2"};

  @Test
  void xlaModeAloneTimesOnlyTheXlaCasesAndPrintsEveryRound() {
    List<String> lines = run(with("experts=2,4", "dense=false", "modes=xla", "times=true", "capacity=0.5"));

    List<String> rows = lines.stream().filter(l -> l.matches("\\| \\d+ \\|.*")).toList();
    assertEquals(4, rows.size(), "block-padded and capacity rows per M: " + rows);
    assertTrue(rows.stream().allMatch(r -> r.contains("| XLA")), rows.toString());
    assertEquals(2, rows.stream().filter(r -> r.contains("| XLA, capacity 0.5 |")).count(), rows.toString());
    List<String> rounds = lines.stream().filter(l -> l.contains("ms per round")).toList();
    assertEquals(6, rounds.size(), "plain, sorted and capacity for each of 2 M: " + rounds);
    assertTrue(rounds.stream().allMatch(r -> r.split(",").length == 1 + 2), "2 rounds each: " + rounds);
    // 40 rows, k = 2: capacity 0.5 gives each expert room for a quarter (M = 2) or an eighth (M = 4)
    // of the 80 pairs, so at least 40 are dropped.
    List<String> drops = lines.stream().filter(l -> l.contains("pairs dropped")).toList();
    assertEquals(2, drops.size(), drops.toString());
    assertTrue(drops.get(0).startsWith("  M=2 capacity 0.5: C = 20, ") && drops.get(1).startsWith("  M=4 capacity 0.5: C = 10, "), drops.toString());
    for (String d : drops) {
      int dropped = Integer.parseInt(d.replaceAll(".*C = \\d+, (\\d+) of 80 pairs dropped.*", "$1"));
      assertTrue(dropped >= 40 && dropped <= 80, d);
    }
  }

  @Test
  void spillLayoutsAreTimedUnderXlaWithTheirSpilledPairs() {
    List<String> lines = run(with("experts=2", "dense=false", "spill=0.5/2/1,3/4/2", "zipf=4"));

    List<String> rows = lines.stream().filter(l -> l.matches("\\| \\d+ \\|.*")).toList();
    assertEquals(6, rows.size(), "graph, segmented (aligned and not), XLA block-padded and two spill rows: " + rows);
    assertTrue(rows.get(4).contains("| C=20, B=2 | XLA, spill 0.5/2/1 |") && rows.get(5).contains("| C=120, B=4 | XLA, spill 3.0/4/2 |"), rows.toString());
    // 80 pairs on 2 experts: with room for 20 each, at least 40 spill; with room for 120, none.
    List<String> spilled = lines.stream().filter(l -> l.contains("pairs spilled")).toList();
    assertEquals(2, spilled.size(), spilled.toString());
    int many = Integer.parseInt(spilled.get(0).replaceAll(".*C = 20, (\\d+) of 80 pairs spilled.*", "$1"));
    assertTrue(many >= 40 && many <= 80, spilled.get(0));
    assertTrue(spilled.get(1).contains("C = 120, 0 of 80 pairs spilled"), spilled.get(1));
    // zipf 4 on 2 experts: expert 0 draws 16/17 of the 80 pairs, 1.88x the mean load; more than
    // 60 of them (1.5x) is 7 standard deviations from failing.
    String busiest = busiest(lines);
    double load = Double.parseDouble(busiest.replaceAll(".*has ([0-9.]+)x the mean load.*", "$1"));
    assertTrue(load > 1.5 && load <= 2.0, busiest);
  }

  @Test
  void bothModesGiveGraphSegmentedAndXlaRows() {
    List<String> rows = run(with("experts=4", "dense=false")).stream().filter(l -> l.matches("\\| \\d+ \\|.*")).toList();

    assertEquals(4, rows.size(), rows.toString());
    assertTrue(rows.get(0).contains("| graph |") && rows.get(1).contains("| graph, segmented |") && rows.get(2).contains("| graph, segmented unaligned |")
        && rows.get(3).contains("| XLA |"), rows.toString());
  }

  @Test
  void theSameSeedDrawsTheSameRoutingAndTheHeaderNamesIt() {
    String[] args = with("experts=4", "dense=false", "modes=graph", "zipf=1", "seed=5");
    List<String> first = run(args);
    List<String> second = run(args);

    assertTrue(first.get(0).endsWith("; seed 5"), first.get(0));
    assertEquals(busiest(first), busiest(second));
  }

  @Test
  void badOptionsAreNamedBeforeAnythingRuns() {
    assertNamed(with("modes=gpu"), "modes=", "gpu");
    assertNamed(with("mode=xla"), "unknown option mode", "modes");
    assertNamed(with("experts=4", "experts=8"), "experts given twice");
    assertNamed(with("dense=flase"), "dense must be true or false", "flase");
    assertNamed(with("k=many"), "k must be an integer", "many");
    assertNamed(with("experts=4,eight"), "experts= takes integers", "4,eight");
    assertNamed(with("capacity=1.25,lots"), "capacity= takes numbers", "1.25,lots");
    assertNamed(with("spill=1.05/32"), "spill= takes auto, none or factor/block/groupBlocks", "1.05/32");
    assertNamed(with("spill=1.05/32/many"), "spill= 1.05/32/many");
    assertNamed(with("spill=1/0/16"), "spillBlockSize");
    assertNamed(with("zipf=-1"), "zipf= takes one exponent >= 0", "-1");
    assertNamed(with("zipf=1,2"), "zipf= takes one exponent");
    assertNamed(with("seed=x"), "seed must be an integer", "x");
  }

  private static void assertNamed(String[] args, String... parts) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> run(args));
    for (String part : parts) {
      assertTrue(e.getMessage().contains(part), "'" + part + "' in: " + e.getMessage());
    }
  }

  private static String busiest(List<String> lines) {
    return lines.stream().filter(l -> l.contains("busiest expert")).findFirst().orElseThrow();
  }

  private static String[] with(String... extra) {
    String[] args = Arrays.copyOf(TINY, TINY.length + extra.length);
    System.arraycopy(extra, 0, args, TINY.length, extra.length);
    return args;
  }

  private static List<String> run(String[] args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PrintStream original = System.out;
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    try {
      ConditionalMatmulBenchmark.main(args);
    } finally {
      System.setOut(original);
    }
    return out.toString(StandardCharsets.UTF_8).lines().toList();
  }
}
