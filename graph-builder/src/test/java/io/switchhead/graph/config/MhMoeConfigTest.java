package io.switchhead.graph.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.accounting.ParameterCount;
import org.junit.jupiter.api.Test;

class MhMoeConfigTest {

  @Test
  void theMatchingRuleGivesTheSpecsExamplesAtWidth768() {
    // SEEDS-MOE.md: d 768, baseline 8 experts of 2048 -> h 2: dff 768, top-2, 40 experts; h 3: dff 512, top-3, 96.
    assertEquals(MhMoeConfig.paper(2, 40, 2, 768), MhMoeMatching.match(768, 8, 2048, 2));
    assertEquals(MhMoeConfig.paper(3, 96, 3, 512), MhMoeMatching.match(768, 8, 2048, 3));
  }

  @Test
  void aMatchedConfigHasTheBaselinesFlopsPerToken() {
    int d = 768;
    MhMoeConfig m = MhMoeMatching.match(d, 8, 2048, 2);
    long smoe = 3L * d * 2048; // one SwiGLU expert per token
    long mh = 2L * d * d + (long) m.heads() * m.k() * 3 * (d / m.heads()) * m.expertSize(); // head + merge, h*k experts of D/h
    assertEquals(smoe, mh);
  }

  @Test
  void unmatchableBaselinesAreNamed() {
    var width = assertThrows(IllegalArgumentException.class, () -> MhMoeMatching.match(128, 8, 512, 2));
    assertTrue(width.getMessage().contains("dModel (128)"), width.getMessage());
    var budget = assertThrows(IllegalArgumentException.class, () -> MhMoeMatching.match(768, 8, 2049, 2));
    assertTrue(budget.getMessage().contains("(1537)") && budget.getMessage().contains("heads (2)"), budget.getMessage());
  }

  @Test
  void theCapacityIsCeilOfFactorTimesKTimesCeilOfSubTokensPerExpert() {
    // S 10 tokens, h 4: 40 sub-tokens over 6 experts -> ceil(40/6) = 7 per expert.
    assertEquals(7, new MhMoeConfig(4, 6, 1, 8, 1.0, 0.01, false).capacity(10));
    assertEquals(14, new MhMoeConfig(4, 6, 2, 8, 1.0, 0.01, false).capacity(10));
    assertEquals(18, new MhMoeConfig(4, 6, 2, 8, 1.25, 0.01, false).capacity(10)); // ceil(1.25 * 14) = ceil(17.5)
  }

  @Test
  void badFieldsAreNamedWithTheirValues() {
    assertMessage(() -> new MhMoeConfig(0, 8, 1, 8, 1, 0.01, false), "heads (0)");
    assertMessage(() -> new MhMoeConfig(4, 8, 9, 8, 1, 0.01, false), "k (9) must be in [1, experts = 8]");
    assertMessage(() -> new MhMoeConfig(4, 8, 1, 0, 1, 0.01, false), "expertSize (0)");
    assertMessage(() -> new MhMoeConfig(4, 8, 1, 8, 0, 0.01, false), "capacityFactor (0.0)");
    assertMessage(() -> new MhMoeConfig(4, 8, 1, 8, 1, -1, false), "balanceWeight (-1.0)");
    MhMoeConfig threeHeads = new MhMoeConfig(3, 8, 1, 8, 1, 0.01, false);
    assertMessage(() -> new ModelConfig(256, 16, 2, 8, new DenseAttentionConfig(2, 8, Positional.ROPE),
        new PerBlockFeedForwardConfig(threeHeads, new DenseFeedForwardConfig(8), 1, 2), 0, 0.7), "dModel (16) must be divisible by heads (3)");
  }

  @Test
  void thePresetMatchesSwitchHeadTinyAndDenseTinyInParametersAndSurvivesJson() {
    ModelConfig mh = Presets.get("mhmoe-tiny");
    assertEquals(new PerBlockFeedForwardConfig(MhMoeConfig.paper(4, 8, 1, 128), new DenseFeedForwardConfig(512), 1, 2), mh.feedForward());
    long mhCount = ParameterCount.of(mh).total();
    long switchHead = ParameterCount.of(Presets.get("switchhead-tiny")).total();
    long dense = ParameterCount.of(Presets.get("dense-tiny")).total();
    assertEquals(-256, mhCount - switchHead, "two MH-MoE feed-forwards of 131,584 in place of dense(512)'s 131,712");
    assertTrue(Math.abs(mhCount - dense) < 0.005 * dense, mhCount + " vs dense-tiny's " + dense);
    String json = ConfigJson.write(mh);
    assertTrue(json.contains("\"type\" : \"mh-moe\""), json);
    assertEquals(mh, ConfigJson.read(json, "mhmoe-tiny.json"));
  }

  @Test
  void theSigmaMoeHiddenDropoutIsOffByDefaultAsInThePaper() {
    assertEquals(new SigmaMoeConfig(16, 128, 4, 0, 1e-4, false), new SigmaMoeConfig(16, 128, 4, 0, 1e-4));
  }

  private static void assertMessage(Runnable r, String part) {
    var e = assertThrows(IllegalArgumentException.class, r::run);
    assertTrue(e.getMessage().contains(part), e.getMessage());
  }
}
