package io.switchhead.graph.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ConfigJsonTest {

  private static String errorOf(String json) {
    return assertThrows(IllegalArgumentException.class, () -> ConfigJson.read(json, "my.json")).getMessage();
  }

  private static String tinyJson() {
    return ConfigJson.write(Presets.get("switchhead-tiny"));
  }

  @Test
  void everyPresetSurvivesAJsonRoundTrip() {
    for (String name : Presets.names()) {
      ModelConfig config = Presets.get(name);
      assertEquals(config, ConfigJson.read(ConfigJson.write(config), name), name);
    }
  }

  @Test
  void theJsonIsReadable() {
    String json = tinyJson();
    assertTrue(json.contains("\"type\" : \"switchhead\"") && json.contains("\"experts\" : 4"), json);
  }

  @Test
  void anUnknownFieldIsNamed() {
    String message = errorOf(tinyJson().replace("\"experts\" : 4", "\"experts\" : 4, \"expertz\" : 3"));
    assertTrue(message.startsWith("my.json: ") && message.contains("\"expertz\""), message);
  }

  @Test
  void aMissingFieldIsNamed() {
    String message = errorOf(tinyJson().replace("\"dropout\" : 0.0,", ""));
    assertTrue(message.contains("dropout"), message);
  }

  @Test
  void kAboveExpertsNamesTheFieldAndTheRange() {
    String message = errorOf(tinyJson().replace("\"k\" : 2", "\"k\" : 6"));
    assertEquals("my.json: SwitchHead attention: k (6) must be in [1, experts = 4]", message);
  }

  @Test
  void negativeSizesAreRejectedWithTheirName() {
    assertTrue(errorOf(tinyJson().replace("\"layers\" : 4", "\"layers\" : -1")).contains("layers (-1) must be >= 1"));
    assertTrue(errorOf(tinyJson().replace("\"headDim\" : 32", "\"headDim\" : -32")).contains("headDim (-32)"));
    var direct = assertThrows(IllegalArgumentException.class, () -> new DenseFeedForwardConfig(0));
    assertTrue(direct.getMessage().contains("hidden (0)"), direct.getMessage());
  }

  @Test
  void aRopeHeadWidthThatCannotBeHalvedTwiceIsRefused() {
    String message = errorOf(tinyJson().replace("\"headDim\" : 32", "\"headDim\" : 30"));
    assertTrue(message.contains("headDim (30)") && message.contains("RoPE"), message);
    assertTrue(assertThrows(IllegalArgumentException.class, () -> new DenseAttentionConfig(4, 6, Positional.ROPE))
        .getMessage().contains("headDim (6)"));
  }

  @Test
  void anUnknownAttentionTypeAndBadJsonAreClear() {
    String message = errorOf(tinyJson().replace("\"type\" : \"switchhead\"", "\"type\" : \"switchheadz\""));
    assertTrue(message.contains("switchheadz"), message);
    assertTrue(errorOf("{ not json").startsWith("my.json: not valid JSON"));
  }

  @Test
  void anUnknownPresetListsTheKnownOnes() {
    var error = assertThrows(IllegalArgumentException.class, () -> Presets.get("switchhead-huge"));
    assertTrue(error.getMessage().contains("switchhead-huge") && error.getMessage().contains("switchhead-47m-wikitext103"));
  }
}
