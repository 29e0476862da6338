package io.switchhead.tools.inspect;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.switchhead.graph.config.ConfigJson;
import java.util.List;

/**
 * Everything {@code inspect} found, as {@code --json} prints it.
 *
 * @param config the model config as ConfigJson writes it
 * @param training the training step's op histogram; null without --training
 * @param savedModel the SavedModel's view; null unless the target is one
 * @param written the files the command wrote (pictures, TensorBoard event file)
 */
public record InspectReport(String target, InspectTarget.Kind kind, Object config, CostTable costs, OpHistogram forward,
    OpHistogram training, XlaReport xla, SavedModelView savedModel, List<String> written) {

  private static final ObjectMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

  public InspectReport {
    written = List.copyOf(written);
  }

  /** The config as a JSON tree, so that --json nests it rather than quoting it. */
  static Object configTree(InspectTarget target) {
    try {
      return JSON.readTree(ConfigJson.write(target.model()));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("ConfigJson wrote JSON that does not parse", e);
    }
  }

  public String toJson() {
    try {
      return JSON.writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("the inspect report does not serialise", e);
    }
  }
}
