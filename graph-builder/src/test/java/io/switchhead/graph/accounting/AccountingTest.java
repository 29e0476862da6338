package io.switchhead.graph.accounting;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Presets;
import org.junit.jupiter.api.Test;

/** The paper's numbers (SWITCHHEAD.md sections 5 and 6), from the presets. */
class AccountingTest {

  private static double macs(String preset) {
    ModelConfig c = Presets.get(preset);
    return AttentionCost.paperMacs(c.attention(), c.dModel(), c.context());
  }

  private static double memory(String preset) {
    ModelConfig c = Presets.get(preset);
    return AttentionCost.paperMemoryFloats(c.attention(), c.context());
  }

  /** Rounds as the paper's tables do: to 0.1 of the unit. */
  private static double rounded(double value, double unit) {
    return Math.round(value / unit * 10) / 10.0;
  }

  @Test
  void paperMacsPerLayer() {
    assertEquals(453.4, rounded(macs("dense-47m"), 1e6));
    assertEquals(170.4, rounded(macs("switchhead-47m-wikitext103"), 1e6));
    assertEquals(202.5, rounded(macs("switchhead-47m-c4"), 1e6));
    assertEquals(5.4, rounded(macs("dense-262m"), 1e9));
    assertEquals(2.4, rounded(macs("switchhead-262m-c4"), 1e9));
  }

  @Test
  void paperMemoryPerLayer() {
    assertEquals(3.5, rounded(memory("dense-47m"), 1e6));
    assertEquals(0.8, rounded(memory("switchhead-47m-wikitext103"), 1e6));
    assertEquals(21.0, rounded(memory("dense-262m"), 1e6));
    assertEquals(5.6, rounded(memory("switchhead-262m-c4"), 1e6));
  }

  @Test
  void presetsLandWithinOnePercentOfTheirNames() {
    for (String name : new String[] {"switchhead-47m-wikitext103", "switchhead-47m-c4", "dense-47m", "switchall-47m"}) {
      long total = ParameterCount.of(Presets.get(name)).total();
      assertEquals(47e6, total, 0.01 * 47e6, name + ": " + total);
    }
    for (String name : new String[] {"switchhead-262m-c4", "switchhead-262m-wikitext103", "dense-262m"}) {
      long total = ParameterCount.of(Presets.get(name)).total();
      assertEquals(262e6, total, 0.01 * 262e6, name + ": " + total);
    }
    assertEquals(41e6, ParameterCount.of(Presets.get("switchhead-enwik8")).total(), 0.02 * 41e6);
    assertEquals(45e6, ParameterCount.of(Presets.get("switchhead-rope-45m")).total(), 0.02 * 45e6);
  }

  @Test
  void denseBaselinesMatchTheirSwitchHeadModels() {
    String[][] pairs = {
      {"switchhead-47m-wikitext103", "dense-47m"},
      {"switchhead-262m-c4", "dense-262m"},
      {"switchhead-enwik8", "dense-enwik8"},
      {"switchhead-tiny", "dense-tiny"},
      {"switchhead-tiny-xl", "dense-tiny-xl"},
    };
    for (String[] pair : pairs) {
      double a = ParameterCount.of(Presets.get(pair[0])).total();
      double b = ParameterCount.of(Presets.get(pair[1])).total();
      assertTrue(Math.abs(a - b) / a < 0.01, pair[0] + " " + a + " vs " + pair[1] + " " + b);
    }
  }
}
