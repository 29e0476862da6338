package io.switchhead.graph.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.switchhead.ops.moe.SelectionConfig;
import io.switchhead.testing.Seeded;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Usage counting: share and unevenness of counted choices, and dynamic k (our design) leaving out the slots a token did not use. */
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

  @Test
  void dynamicKCountsOnlyTheSlotsBelowEachTokensK() {
    int h = 2;
    int e = 4;
    int k = 3;
    int n = 9;
    int[] ids = new int[n * h * k];
    int[] kPerToken = random.ints(n, 1, k + 1).toArray();
    long[][] expected = new long[h][e];
    for (int token = 0; token < n; token++) {
      for (int slot = 0; slot < h * k; slot++) {
        int head = slot / k;
        int expert = random.nextInt(e);
        ids[token * h * k + slot] = head * e + expert;
        if (slot % k < kPerToken[token]) {
          expected[head][expert]++;
        }
      }
    }
    ExpertCounts counts = ExpertCounts.empty("sel", SelectionConfig.of(h, e, k));
    counts.add(ids, kPerToken);
    int kSum = java.util.Arrays.stream(kPerToken).sum();
    for (int head = 0; head < h; head++) {
      assertArrayEquals(expected[head], counts.head(head), "head " + head);
      assertEquals(kSum, counts.total(head));
    }
    ExpertCounts all = ExpertCounts.empty("sel", SelectionConfig.of(h, e, k));
    all.add(ids);
    assertEquals((long) n * k, all.total(0));
    int[] bad = kPerToken.clone();
    bad[0] = k + 1;
    var error = assertThrows(IllegalArgumentException.class, () -> counts.add(ids, bad));
    assertEquals("sel: K (4) of token 0 must be in [1, k = 3]", error.getMessage());
  }
}
