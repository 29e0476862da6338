package io.switchhead.graph.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * What was wrong in a config document, as a user reads it: the field's path ({@code attention.k})
 * and the problem ({@code expected an integer, got the string "2"}), not Jackson's wording, which
 * names Java classes and the features that would have let the mistake through.
 */
final class JsonProblem {

  private JsonProblem() {}

  /** "path: problem", or the problem alone when it concerns the whole document. */
  static String describe(JsonMappingException e) {
    List<JsonMappingException.Reference> refs = e.getPath();
    if (e instanceof UnrecognizedPropertyException) {
      refs = refs.subList(0, refs.size() - 1); // the object that has no such field
    }
    String path = refs.stream()
        .map(ref -> ref.getFieldName() != null ? ref.getFieldName() : "[" + ref.getIndex() + "]")
        .collect(Collectors.joining("."))
        .replace(".[", "[");
    String problem = problem(e);
    return path.isEmpty() ? problem : path + ": " + problem;
  }

  private static String problem(JsonMappingException e) {
    String original = e.getOriginalMessage();
    if (e instanceof UnrecognizedPropertyException unknown) {
      return "unknown field \"" + unknown.getPropertyName() + "\"; the known ones are " + unknown.getKnownPropertyIds().stream()
          .map(id -> "\"" + id + "\"").sorted().collect(Collectors.joining(", "));
    }
    if (original.startsWith("Missing creator property")) {
      return "missing (every field is required)";
    }
    if (original.startsWith("No content to map")) {
      return "the document is empty";
    }
    if (original.startsWith("Trailing token")) {
      return "more content after the config's closing brace";
    }
    if (e instanceof MismatchedInputException mismatch && mismatch.getTargetType() != null) {
      String found = original.startsWith("Null value for creator property") ? "null" : found(e);
      if (found != null) {
        return "expected " + expected(mismatch.getTargetType()) + ", got " + found;
      }
    }
    return original.replaceAll("`?io\\.switchhead\\.graph\\.config\\.(\\w+)`?", "$1");
  }

  private static String expected(Class<?> type) {
    if (type == int.class || type == Integer.class || type == long.class || type == Long.class) {
      return "an integer";
    }
    if (type == double.class || type == Double.class || type == float.class || type == Float.class) {
      return "a number";
    }
    if (type == boolean.class || type == Boolean.class) {
      return "true or false";
    }
    if (type == String.class) {
      return "a string";
    }
    if (type.isEnum()) {
      return "one of " + Arrays.stream(type.getEnumConstants()).map(c -> "\"" + c + "\"").collect(Collectors.joining(", "));
    }
    return "an object";
  }

  /** The offending JSON value: the one the exception carries, or the one the parser stopped at; null if neither. */
  private static String found(JsonMappingException e) {
    if (e instanceof InvalidFormatException invalid && invalid.getValue() != null) {
      Object value = invalid.getValue();
      if (value instanceof String text) {
        return "the string \"" + text + "\"";
      }
      return (value instanceof Integer || value instanceof Long ? "the integer " : value instanceof Number ? "the number " : "") + value;
    }
    if (!(e.getProcessor() instanceof JsonParser parser) || parser.currentToken() == null) {
      return null;
    }
    try {
      JsonToken token = parser.currentToken();
      return switch (token) {
        case VALUE_STRING -> "the string \"" + parser.getText() + "\"";
        case VALUE_NUMBER_INT -> "the integer " + parser.getText();
        case VALUE_NUMBER_FLOAT -> "the number " + parser.getText();
        case VALUE_TRUE, VALUE_FALSE, VALUE_NULL -> parser.getText();
        case START_ARRAY -> "an array";
        case START_OBJECT -> "an object";
        default -> null;
      };
    } catch (IOException unreadable) {
      return null;
    }
  }
}
