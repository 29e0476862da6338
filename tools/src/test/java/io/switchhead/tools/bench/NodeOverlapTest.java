package io.switchhead.tools.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.switchhead.testing.Seeded;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The overlap of node runs against counting every microsecond of the span. */
class NodeOverlapTest {

  @Seeded private Random random;

  @Test
  void timeByHowManyNodesRanMatchesCountingEachMicrosecond() {
    for (int trial = 0; trial < 50; trial++) {
      long origin = random.nextInt(1_000_000);
      List<NodeOverlap.Run> runs = new ArrayList<>();
      int count = 1 + random.nextInt(30);
      for (int i = 0; i < count; i++) {
        long start = origin + random.nextInt(500);
        runs.add(new NodeOverlap.Run(start, start + (random.nextInt(4) == 0 ? 0 : random.nextInt(80))));
      }
      long first = runs.stream().mapToLong(NodeOverlap.Run::start).min().getAsLong();
      long last = runs.stream().mapToLong(NodeOverlap.Run::end).max().getAsLong();
      long[] byCount = new long[3];
      for (long t = first; t < last; t++) { // the microsecond [t, t + 1)
        long at = t;
        int running = (int) runs.stream().filter(r -> r.start() <= at && at < r.end()).count();
        byCount[Math.min(running, 2)]++;
      }
      assertEquals(new NodeOverlap(last - first, byCount[0], byCount[1], byCount[2]), NodeOverlap.of(runs), "runs " + runs);
    }
  }

  @Test
  void aNodeEndingAsTheNextStartsDoesNotOverlapIt() {
    NodeOverlap o = NodeOverlap.of(List.of(new NodeOverlap.Run(0, 10), new NodeOverlap.Run(10, 30), new NodeOverlap.Run(40, 40),
        new NodeOverlap.Run(40, 50), new NodeOverlap.Run(45, 50)));
    assertEquals(new NodeOverlap(50, 10, 35, 5), o);
    double[] shares = o.percents();
    assertEquals(20.0, shares[0], 1e-9);
    assertEquals(70.0, shares[1], 1e-9);
    assertEquals(10.0, shares[2], 1e-9);
  }

  @Test
  void aRunEndingBeforeItStartsIsRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new NodeOverlap.Run(10, 9));
    assertEquals("a node cannot end (9) before it starts (10)", e.getMessage());
  }
}
