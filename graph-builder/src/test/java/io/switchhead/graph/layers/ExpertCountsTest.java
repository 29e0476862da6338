package io.switchhead.graph.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.switchhead.ops.moe.SelectionConfig;
import io.switchhead.testing.Seeded;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Usage counting, with dynamic k (our design) leaving out the slots a token did not use. */
class ExpertCountsTest {

  @Seeded private Random random;

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
