package io.switchhead.graph.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.switchhead.ops.moe.SelectionConfig;
import io.switchhead.testing.Seeded;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Usage share and unevenness of counted choices. */
class ExpertCountsTest {

  @Seeded private Random random;

  @Test
  void anEvenUsageHasShareOneAndNoUnevennessAndOneExpertHasLogE() {
    ExpertCounts even = ExpertCounts.empty("even", SelectionConfig.of(1, 4, 1));
    even.add(new int[] {0, 1, 2, 3, 3, 2, 1, 0});
    assertEquals(1.0, even.usageShare(0));
    assertEquals(0.0, even.unevenness(0), 1e-12);
    ExpertCounts one = ExpertCounts.empty("one", SelectionConfig.of(1, 4, 1));
    one.add(new int[] {2, 2, 2});
    assertEquals(0.25, one.usageShare(0));
    assertEquals(Math.log(4), one.unevenness(0), 1e-12);
    assertEquals(0.0, ExpertCounts.empty("none", SelectionConfig.of(1, 4, 1)).unevenness(0));
  }

  @Test
  void unevennessIsTheDivergenceFromUniformPerHead() {
    int h = 2;
    int e = 5;
    int k = 2;
    ExpertCounts counts = ExpertCounts.empty("sel", SelectionConfig.of(h, e, k));
    int tokens = 7;
    int[] ids = new int[tokens * h * k];
    long[][] expected = new long[h][e];
    for (int i = 0; i < ids.length; i++) {
      int head = (i % (h * k)) / k;
      int expert = random.nextInt(e - 1); // expert e-1 never chosen: share (e-1)/e
      ids[i] = head * e + expert;
      expected[head][expert]++;
    }
    counts.add(ids);
    for (int head = 0; head < h; head++) {
      double total = tokens * k;
      double kl = 0; // KL(z || uniform) = sum z log(z E)
      int used = 0;
      for (long c : expected[head]) {
        if (c > 0) {
          kl += c / total * Math.log(c / total * e);
          used++;
        }
      }
      assertEquals(kl, counts.unevenness(head), 1e-12, "head " + head);
      assertEquals((double) used / e, counts.usageShare(head), "head " + head);
    }
  }
}
