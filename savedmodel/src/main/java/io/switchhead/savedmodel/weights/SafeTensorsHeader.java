package io.switchhead.savedmodel.weights;

import static com.google.common.base.Preconditions.checkArgument;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSet;
import java.io.IOException;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.tensorflow.ndarray.Shape;

/**
 * The JSON header of a safetensors file: per tensor name its {@code dtype}, {@code shape} and
 * {@code data_offsets} [begin, end) into the byte buffer, and optionally {@code __metadata__}, an
 * object of strings. {@link #parse} checks each entry on its own (known dtype, non-negative
 * integers, offsets that hold exactly the shape's bytes); {@link #checkTiling} checks them together
 * against the buffer. Messages name the tensor; the caller adds the file.
 */
record SafeTensorsHeader(ImmutableMap<String, String> metadata, ImmutableList<Entry> entries) {

  /** One tensor's header entry; its bytes are [begin, end) of the buffer after the header. */
  record Entry(String name, Dtype dtype, Shape shape, long begin, long end) {}

  static final String METADATA = "__metadata__";
  private static final ImmutableSet<String> FIELDS = ImmutableSet.of("dtype", "shape", "data_offsets");
  // Duplicate names are refused: a JSON reader would keep one of them without a word.
  private static final ObjectMapper JSON = JsonMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();

  /**
   * Parses and checks a header's bytes.
   *
   * @throws IllegalArgumentException saying what is wrong, naming the tensor where there is one
   */
  static SafeTensorsHeader parse(byte[] json) {
    JsonNode root;
    try {
      root = JSON.readTree(json);
    } catch (IOException e) {
      throw new IllegalArgumentException("the header is not JSON: "
          + (e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage()), e);
    }
    checkArgument(root != null && root.isObject(), "the header is %s, expected a JSON object",
        root == null || root.isMissingNode() ? "empty" : "a JSON " + kind(root));
    ImmutableMap<String, String> metadata = ImmutableMap.of();
    ImmutableList.Builder<Entry> entries = ImmutableList.builder();
    for (Map.Entry<String, JsonNode> field : root.properties()) {
      if (field.getKey().equals(METADATA)) {
        metadata = metadata(field.getValue());
      } else {
        entries.add(entry(field.getKey(), field.getValue()));
      }
    }
    return new SafeTensorsHeader(metadata, entries.build());
  }

  private static ImmutableMap<String, String> metadata(JsonNode node) {
    checkArgument(node.isObject(), "%s is a JSON %s, expected an object of strings", METADATA, kind(node));
    ImmutableMap.Builder<String, String> metadata = ImmutableMap.builder();
    for (Map.Entry<String, JsonNode> field : node.properties()) {
      checkArgument(field.getValue().isTextual(), "%s entry '%s' is a JSON %s, expected a string", METADATA, field.getKey(),
          kind(field.getValue()));
      metadata.put(field.getKey(), field.getValue().textValue());
    }
    return metadata.buildOrThrow();
  }

  private static Entry entry(String name, JsonNode node) {
    checkArgument(node.isObject(), "tensor '%s': its entry is a JSON %s, expected an object with %s", name, kind(node), FIELDS);
    for (String field : (Iterable<String>) node::fieldNames) {
      checkArgument(FIELDS.contains(field), "tensor '%s': unknown field '%s' (an entry has %s)", name, field, FIELDS);
    }
    JsonNode dtypeNode = required(name, node, "dtype");
    checkArgument(dtypeNode.isTextual(), "tensor '%s': dtype is a JSON %s, expected a string", name, kind(dtypeNode));
    Dtype dtype = Dtype.named(dtypeNode.textValue()).orElseThrow(() -> new IllegalArgumentException(String.format(
        "tensor '%s': unknown dtype '%s' (known: %s)", name, dtypeNode.textValue(), Arrays.toString(Dtype.values()))));
    long[] dims = naturals(name, "shape", required(name, node, "shape"));
    long[] offsets = naturals(name, "data_offsets", required(name, node, "data_offsets"));
    checkArgument(offsets.length == 2, "tensor '%s': data_offsets has %s numbers, expected 2 (begin, end)", name, offsets.length);
    checkArgument(offsets[0] <= offsets[1], "tensor '%s': data_offsets [%s, %s] end before they begin", name, offsets[0], offsets[1]);
    long bytes = bytes(name, dtype, dims);
    checkArgument(offsets[1] - offsets[0] == bytes, "tensor '%s': data_offsets [%s, %s] hold %s bytes, its dtype %s and shape %s "
        + "take %s", name, offsets[0], offsets[1], offsets[1] - offsets[0], dtype, Arrays.toString(dims), bytes);
    return new Entry(name, dtype, Shape.of(dims), offsets[0], offsets[1]);
  }

  private static JsonNode required(String name, JsonNode entry, String field) {
    JsonNode value = entry.get(field);
    checkArgument(value != null, "tensor '%s': no %s (an entry has %s)", name, field, FIELDS);
    return value;
  }

  /** An array of integers in [0, 2^63). */
  private static long[] naturals(String name, String field, JsonNode node) {
    checkArgument(node.isArray(), "tensor '%s': %s is a JSON %s, expected an array of integers", name, field, kind(node));
    long[] values = new long[node.size()];
    for (int i = 0; i < values.length; i++) {
      JsonNode n = node.get(i);
      checkArgument(n.isIntegralNumber() && n.canConvertToLong() && n.longValue() >= 0,
          "tensor '%s': %s holds %s, expected integers from 0 to 2^63 - 1", name, field, n);
      values[i] = n.longValue();
    }
    return values;
  }

  private static long bytes(String name, Dtype dtype, long[] dims) {
    try {
      long bytes = dtype.bytes();
      for (long d : dims) {
        bytes = Math.multiplyExact(bytes, d);
      }
      return bytes;
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException(String.format("tensor '%s': shape %s holds over 2^63 bytes", name, Arrays.toString(dims)), e);
    }
  }

  private static String kind(JsonNode node) {
    return node.getNodeType().toString().toLowerCase(Locale.ROOT);
  }

  /**
   * Checks that the tensors tile the byte buffer of {@code bufferBytes} bytes: every tensor within
   * it, none overlapping another, and every byte in one of them (the specification's rule against
   * hidden content in the holes).
   *
   * @throws IllegalArgumentException naming the tensors concerned
   */
  void checkTiling(long bufferBytes) {
    for (Entry e : entries) {
      checkArgument(e.end() <= bufferBytes, "tensor '%s': data_offsets [%s, %s] run past the end of the data (%s bytes after the "
          + "header)", e.name(), e.begin(), e.end(), bufferBytes);
    }
    List<Entry> byOffset = entries.stream().sorted(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end)).toList();
    long covered = 0;
    Entry previous = null;
    for (Entry e : byOffset) {
      if (e.begin() < covered) {
        throw new IllegalArgumentException(String.format("tensor '%s': data_offsets [%s, %s] overlap those of tensor '%s' [%s, %s]",
            e.name(), e.begin(), e.end(), previous.name(), previous.begin(), previous.end()));
      }
      checkArgument(e.begin() == covered, "bytes [%s, %s) of the data, before tensor '%s', are in no tensor (the specification "
          + "requires every byte to be a tensor's)", covered, e.begin(), e.name());
      covered = e.end();
      previous = e;
    }
    checkArgument(covered == bufferBytes, "bytes [%s, %s) of the data, %s, are in no tensor (the specification requires every "
        + "byte to be a tensor's)", covered, bufferBytes, previous == null ? "the whole data" : "after tensor '" + previous.name() + "'");
  }

  /** The header's JSON, padded with spaces to a multiple of 8 bytes so that the data that follows is aligned, as writers do. */
  byte[] encode() {
    ObjectNode root = JSON.createObjectNode();
    if (!metadata.isEmpty()) {
      ObjectNode m = root.putObject(METADATA);
      metadata.forEach(m::put);
    }
    for (Entry e : entries) {
      checkArgument(!e.name().equals(METADATA), "a tensor cannot be called %s", METADATA);
      ObjectNode entry = root.putObject(e.name());
      entry.put("dtype", e.dtype().name());
      ArrayNode shape = entry.putArray("shape");
      Arrays.stream(e.shape().asArray()).forEach(shape::add);
      entry.putArray("data_offsets").add(e.begin()).add(e.end());
    }
    byte[] json;
    try {
      json = JSON.writeValueAsBytes(root);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write a safetensors header", e);
    }
    byte[] padded = Arrays.copyOf(json, (json.length + 7) / 8 * 8);
    Arrays.fill(padded, json.length, padded.length, (byte) ' ');
    return padded;
  }
}
