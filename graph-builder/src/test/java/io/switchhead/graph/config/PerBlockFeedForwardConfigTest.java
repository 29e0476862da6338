package io.switchhead.graph.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.accounting.ParameterCount;
import org.junit.jupiter.api.Test;

class PerBlockFeedForwardConfigTest {

  private static final SigmaMoeConfig MOE = new SigmaMoeConfig(4, 6, 2, 0, 1e-3);
  private static final DenseFeedForwardConfig DENSE = new DenseFeedForwardConfig(24);

  private static ModelConfig model(int layers, FeedForwardConfig ff) {
    return new ModelConfig(256, 16, layers, 8, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0), ff, 0, 0.7);
  }

  @Test
  void everySecondBlockFromTheFirstChosenOne() {
    PerBlockFeedForwardConfig everySecond = new PerBlockFeedForwardConfig(MOE, DENSE, 1, 2);
    assertEquals(DENSE, everySecond.forBlock(0));
    assertEquals(MOE, everySecond.forBlock(1));
    assertEquals(DENSE, everySecond.forBlock(2));
    assertEquals(MOE, everySecond.forBlock(3));
    PerBlockFeedForwardConfig middleOfFour = new PerBlockFeedForwardConfig(MOE, DENSE, 2, 4);
    for (int i = 0; i < 4; i++) {
      assertEquals(i == 2 ? MOE : DENSE, middleOfFour.forBlock(i), "block " + i);
    }
    assertEquals(DENSE, DENSE.forBlock(3), "a single feed-forward is every block's");
  }

  @Test
  void theParameterCountAddsEachBlocksOwn() {
    ModelConfig mixed = model(4, new PerBlockFeedForwardConfig(MOE, DENSE, 1, 2));
    ParameterCount count = ParameterCount.of(mixed);
    long d = 16;
    assertEquals(ParameterCount.feedForward(DENSE, d), count.feedForward().get(0));
    assertEquals(ParameterCount.feedForward(MOE, d), count.feedForward().get(1));
    long allDense = ParameterCount.of(model(4, DENSE)).total();
    long allMoe = ParameterCount.of(model(4, MOE)).total();
    assertEquals((allDense + allMoe) / 2, count.total());
  }

  @Test
  void survivesAJsonRoundTrip() {
    ModelConfig mixed = model(4, new PerBlockFeedForwardConfig(MOE, DENSE, 1, 2));
    String json = ConfigJson.write(mixed);
    assertTrue(json.contains("\"type\" : \"per-block\""), json);
    assertEquals(mixed, ConfigJson.read(json, "mixed.json"));
  }

  @Test
  void aFirstBlockPastTheModelIsNamed() {
    var error = assertThrows(IllegalArgumentException.class, () -> model(2, new PerBlockFeedForwardConfig(MOE, DENSE, 2, 2)));
    assertTrue(error.getMessage().contains("feedForward.first (2)") && error.getMessage().contains("2 blocks"), error.getMessage());
  }

  @Test
  void nestingAndBadStridesAreRefused() {
    PerBlockFeedForwardConfig inner = new PerBlockFeedForwardConfig(MOE, DENSE, 0, 2);
    assertTrue(assertThrows(IllegalArgumentException.class, () -> new PerBlockFeedForwardConfig(inner, DENSE, 0, 2))
        .getMessage().contains("single feed-forwards"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> new PerBlockFeedForwardConfig(MOE, DENSE, 0, 0))
        .getMessage().contains("every (0)"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> new PerBlockFeedForwardConfig(MOE, DENSE, -1, 2))
        .getMessage().contains("first (-1)"));
  }
}
