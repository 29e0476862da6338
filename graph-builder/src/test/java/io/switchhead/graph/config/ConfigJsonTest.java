package io.switchhead.graph.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.util.List;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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

  private static String tinyWith(String field, String value) {
    String json = tinyJson();
    String edited = json.replaceFirst("\"" + field + "\" : [^,\n]+", "\"" + field + "\" : " + java.util.regex.Matcher.quoteReplacement(value));
    assertTrue(!edited.equals(json), field + " is not in " + json);
    return edited;
  }

  @Test
  void aNullDocumentIsRefusedNotANullPointer() {
    assertEquals("my.json: the document is null, expected a model config (a JSON object)", errorOf("null"));
    assertEquals("my.json: the document is empty", errorOf(" "));
    assertEquals("my.json: expected an object, got an array", errorOf("[]"));
  }

  @Test
  void aStringIsNotANumber() {
    assertEquals("my.json: layers: expected an integer, got the string \"4\"", errorOf(tinyWith("layers", "\"4\"")));
    assertEquals("my.json: attention.k: expected an integer, got the string \"2\"", errorOf(tinyWith("k", "\"2\"")));
    assertEquals("my.json: dropout: expected a number, got the string \"0.1\"", errorOf(tinyWith("dropout", "\"0.1\"")));
    assertEquals("my.json: layers: expected an integer, got the string \"\"", errorOf(tinyWith("layers", "\"\"")));
    assertEquals("my.json: layers: expected an integer, got true", errorOf(tinyWith("layers", "true")));
  }

  @Test
  void aRealNumberIsNotAnIntegerButAnIntegerIsARealNumber() {
    assertEquals("my.json: layers: expected an integer, got the number 4.5", errorOf(tinyWith("layers", "4.5")));
    assertEquals("my.json: attention.headDim: expected an integer, got the number 32.0", errorOf(tinyWith("headDim", "32.0")));
    assertEquals("my.json: layers: expected an integer, got the number 4.0", errorOf(tinyWith("layers", "4e0")));
    assertEquals(0.0, ConfigJson.read(tinyWith("dropout", "0"), "my.json").dropout());
  }

  @Test
  void aNumberIsNotAString() {
    assertEquals("my.json: attention.positional: expected one of \"ROPE\", \"XL\", got the integer 0",
        errorOf(tinyWith("positional", "0")));
    assertTrue(errorOf(tinyWith("type", "1")).startsWith("my.json: attention: Could not resolve type id '1'"));
  }

  @Test
  void nullFieldsAreNamed() {
    assertEquals("my.json: layers: expected an integer, got null", errorOf(tinyWith("layers", "null")));
    assertEquals("my.json: attention.positional: expected one of \"ROPE\", \"XL\", got null", errorOf(tinyWith("positional", "null")));
    assertEquals("my.json: feedForward: expected an object, got null",
        errorOf(tinyJson().replaceFirst("\"feedForward\" : \\{[^}]*}", "\"feedForward\" : null")));
  }

  @Test
  void aDuplicateFieldOrTrailingContentIsRefused() {
    assertEquals("my.json: not valid JSON: Duplicate field 'layers' (line 4, column 25)", errorOf(tinyWith("layers", "4, \"layers\" : 8")));
    assertEquals("my.json: more content after the config's closing brace", errorOf(tinyJson() + " {}"));
  }

  @Test
  void anUnknownOrMissingNestedFieldIsNamedByItsPath() {
    assertEquals("my.json: attention.k: missing (every field is required)", errorOf(tinyJson().replace("\"k\" : 2,", "")));
    assertEquals("my.json: attention: unknown field \"expertz\"; the known ones are \"expertDropout\", \"experts\", \"headDim\", "
        + "\"heads\", \"k\", \"kRule\", \"positional\"", errorOf(tinyWith("experts", "4, \"expertz\" : 3")));
  }

  @Test
  void aFileIsNamedInTheError(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("model.json");
    Files.writeString(file, tinyWith("layers", "\"4\""));
    var error = assertThrows(IllegalArgumentException.class, () -> ConfigJson.read(file));
    assertEquals(file + ": layers: expected an integer, got the string \"4\"", error.getMessage());
  }

  @Test
  void kRulesSurviveAJsonRoundTripAndABadOneIsNamed() {
    for (KRule rule : List.of(KRule.fixed(), AttentionK.ceil(), AttentionK.budget(1.5))) {
      ModelConfig c = new ModelConfig(256, 16, 2, 8, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0, rule),
          new SigmaMoeConfig(4, 6, 2, 0, 1e-3, rule), 0.0, 0.7);
      assertEquals(c, ConfigJson.read(ConfigJson.write(c), rule.toString()), rule.toString());
    }
    assertTrue(tinyJson().contains("\"kRule\" : {\n      \"type\" : \"fixed\""), tinyJson());
    String dynamic = ConfigJson.write(Presets.get("switchhead-dynk-tiny"));
    assertTrue(dynamic.contains("\"type\" : \"attention\"") && dynamic.contains("\"variant\" : \"CEIL\""), dynamic);
    assertEquals("my.json: SwitchHead attention: kRule.kAvg (3.0) must be in [1, k = 2]",
        errorOf(dynamic.replace("\"variant\" : \"CEIL\"", "\"variant\" : \"BUDGET\"").replace("\"kAvg\" : 0.0", "\"kAvg\" : 3.0")));
    assertEquals("my.json: attention k rule: kAvg (1.0) is read by the BUDGET variant only; set it to 0 for CEIL",
        errorOf(dynamic.replace("\"kAvg\" : 0.0", "\"kAvg\" : 1.0")));
    assertTrue(errorOf(tinyJson().replace("\"type\" : \"fixed\"", "\"type\" : \"sometimes\"")).contains("sometimes"));
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
