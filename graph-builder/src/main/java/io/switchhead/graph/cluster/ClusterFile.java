package io.switchhead.graph.cluster;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.common.collect.ImmutableList;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Reads a cluster file, {@code {"worker": ["host:port", ...]}} (TensorFlow's cluster spec with its
 * one job), refusing what is not that with the file and the field named, before any server starts.
 */
public final class ClusterFile {

  private static final Pattern ADDRESS = Pattern.compile("[A-Za-z0-9.\\-\\[\\]:]+:(\\d{1,5})");

  private ClusterFile() {}

  /**
   * @throws IllegalArgumentException if the file is missing, not JSON, or not a worker list of
   *     distinct host:port addresses
   */
  public static ClusterSpec read(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException("--cluster " + file + ": no such file");
    } catch (IOException e) {
      throw new UncheckedIOException("--cluster " + file + ": cannot read it", e);
    }
    JsonNode root;
    try {
      root = new ObjectMapper().readTree(text);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(file + ": not JSON: " + e.getOriginalMessage());
    }
    if (root == null || !root.isObject()) {
      throw new IllegalArgumentException(file + ": expected an object {\"worker\": [\"host:port\", ...]}");
    }
    for (Iterator<Map.Entry<String, JsonNode>> fields = root.fields(); fields.hasNext(); ) {
      String name = fields.next().getKey();
      if (!name.equals(ClusterSpec.JOB)) {
        throw new IllegalArgumentException(file + ": unknown field \"" + name + "\"; a cluster has one job, \"worker\"");
      }
    }
    JsonNode workers = root.get(ClusterSpec.JOB);
    if (workers == null || !workers.isArray()) {
      throw new IllegalArgumentException(file + ": \"worker\" must be a list of \"host:port\" addresses, got "
          + (workers == null ? "no such field" : workers.getNodeType().toString().toLowerCase(Locale.ROOT)));
    }
    List<String> seen = new ArrayList<>();
    for (int i = 0; i < workers.size(); i++) {
      JsonNode w = workers.get(i);
      String field = file + ": worker[" + i + "]";
      if (!w.isTextual()) {
        throw new IllegalArgumentException(field + ": expected a \"host:port\" string, got " + w);
      }
      var m = ADDRESS.matcher(w.asText());
      if (!m.matches() || Integer.parseInt(m.group(1)) < 1 || Integer.parseInt(m.group(1)) > 65535) {
        throw new IllegalArgumentException(field + ": \"" + w.asText() + "\" is not host:port (a port in [1, 65535])");
      }
      int first = seen.indexOf(w.asText());
      if (first >= 0) {
        throw new IllegalArgumentException(field + ": \"" + w.asText() + "\" is worker[" + first + "]'s address too; each task needs its own");
      }
      seen.add(w.asText());
    }
    return new ClusterSpec(file, ImmutableList.copyOf(seen));
  }
}
