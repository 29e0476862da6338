package io.switchhead.graph.config;

import static com.google.common.base.Preconditions.checkArgument;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Model configs as JSON. Strict, because a config that is read differently from how it was meant
 * trains the wrong model for days: an unknown field, a missing one, a null, a duplicate, trailing
 * content or a value of the wrong JSON type ({@code "layers": "4"}, {@code "layers": 4.5},
 * {@code "positional": 0}) is an error naming the file, the field's path and what was wrong
 * ({@link JsonProblem}); the records' own checks name the allowed range. An integer is accepted
 * where a real number is expected ({@code "dropout": 0}): JSON does not tell 0 from 0.0.
 */
public final class ConfigJson {

  private static final ObjectMapper MAPPER = strictMapper();

  private ConfigJson() {}

  private static ObjectMapper strictMapper() {
    JsonMapper mapper = JsonMapper.builder()
        .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        .enable(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES)
        .enable(DeserializationFeature.FAIL_ON_NULL_CREATOR_PROPERTIES)
        .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
        .enable(DeserializationFeature.FAIL_ON_NUMBERS_FOR_ENUMS)
        .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
        .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
        .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
        .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
        .enable(SerializationFeature.INDENT_OUTPUT)
        .build();
    // Spelled out rather than left to ALLOW_COERCION_OF_SCALARS alone: a string is not a number, a
    // number is not a string, a boolean is neither, and an empty string is not a value.
    for (CoercionInputShape shape : new CoercionInputShape[] {CoercionInputShape.String, CoercionInputShape.EmptyString,
        CoercionInputShape.Boolean}) {
      mapper.coercionConfigFor(LogicalType.Integer).setCoercion(shape, CoercionAction.Fail);
      mapper.coercionConfigFor(LogicalType.Float).setCoercion(shape, CoercionAction.Fail);
    }
    mapper.coercionConfigFor(LogicalType.Integer).setCoercion(CoercionInputShape.Float, CoercionAction.Fail);
    for (CoercionInputShape shape : new CoercionInputShape[] {CoercionInputShape.Integer, CoercionInputShape.Float,
        CoercionInputShape.Boolean}) {
      mapper.coercionConfigFor(LogicalType.Textual).setCoercion(shape, CoercionAction.Fail);
      mapper.coercionConfigFor(LogicalType.Enum).setCoercion(shape, CoercionAction.Fail);
    }
    mapper.coercionConfigFor(LogicalType.Enum).setCoercion(CoercionInputShape.EmptyString, CoercionAction.Fail);
    return mapper;
  }

  public static String write(ModelConfig config) {
    try {
      return MAPPER.writeValueAsString(config);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write config " + config, e);
    }
  }

  /** Parses a config; {@code source} names where it came from in error messages. */
  public static ModelConfig read(String json, String source) {
    ModelConfig config;
    try {
      config = MAPPER.readValue(json, ModelConfig.class);
    } catch (JsonMappingException e) {
      Throwable cause = e.getCause();
      if (cause instanceof IllegalArgumentException || cause instanceof NullPointerException) {
        // A record's own check: its message names the field and the allowed range.
        throw new IllegalArgumentException(source + ": " + cause.getMessage(), e);
      }
      throw new IllegalArgumentException(source + ": " + JsonProblem.describe(e), e);
    } catch (JsonProcessingException e) {
      String where = e.getLocation() == null ? ""
          : " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")";
      throw new IllegalArgumentException(source + ": not valid JSON: " + e.getOriginalMessage() + where, e);
    }
    checkArgument(config != null, "%s: the document is null, expected a model config (a JSON object)", source);
    return config;
  }

  public static ModelConfig read(Path file) {
    try {
      return read(Files.readString(file), file.toString());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read config file " + file, e);
    }
  }
}
