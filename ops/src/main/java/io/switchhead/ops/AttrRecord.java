package io.switchhead.ops;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * Named ints, longs, booleans and strings in one string, {@code key=value,key=value}: the static
 * configuration that a hand-written gradient reads back from its node's string attribute (see
 * {@code GradientOverride}), and a loop definition's names and sizes ({@code CountedLoop}).
 *
 * <p>A nested record is written under a prefix ({@code loop.body=...}), so that a gradient's
 * configuration can hold its loops' definitions in the same format. Values may not contain
 * {@code ,} or {@code =} (numbers and TensorFlow function names never do). Writer and reader are
 * the same program, so a missing or malformed field is a bug: reading one throws an
 * IllegalArgumentException that names the record, the key and the text.
 */
public final class AttrRecord {

  private static final Pattern KEY = Pattern.compile("[A-Za-z][A-Za-z0-9_]*(\\.[A-Za-z][A-Za-z0-9_]*)*");

  /** What the record is, for messages, e.g. "switchhead.SortedConditionalMatmul config". */
  private final String what;

  /** The full key of this record's fields ("" at the top, "loop." for a nested one), for messages. */
  private final String path;

  private final ImmutableMap<String, String> fields;

  private AttrRecord(String what, String path, Map<String, String> fields) {
    this.what = what;
    this.path = path;
    this.fields = ImmutableMap.copyOf(fields);
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Builds a record field by field, in order; a key given twice is an error. */
  public static final class Builder {
    private final Map<String, String> fields = new LinkedHashMap<>();

    private Builder() {}

    public Builder putInt(String key, int value) {
      return put(key, Integer.toString(value));
    }

    public Builder putLong(String key, long value) {
      return put(key, Long.toString(value));
    }

    public Builder putBoolean(String key, boolean value) {
      return put(key, Boolean.toString(value));
    }

    public Builder putString(String key, String value) {
      checkArgument(value.indexOf(',') < 0 && value.indexOf('=') < 0, "value of %s must not contain ',' or '=', got %s", key, value);
      return put(key, value);
    }

    /** The fields of {@code nested} under {@code prefix.}. */
    public Builder putRecord(String prefix, AttrRecord nested) {
      checkArgument(KEY.matcher(prefix).matches(), "record prefix must match %s, got %s", KEY, prefix);
      nested.fields.forEach((key, value) -> put(prefix + "." + key, value));
      return this;
    }

    /** {@link #putRecord} when present; nothing when empty ({@link AttrRecord#optionalRecord} reads it back). */
    public Builder putOptionalRecord(String prefix, Optional<AttrRecord> nested) {
      nested.ifPresent(r -> putRecord(prefix, r));
      return this;
    }

    public AttrRecord build() {
      return new AttrRecord("record", "", fields);
    }

    private Builder put(String key, String value) {
      checkArgument(KEY.matcher(key).matches(), "key must match %s, got %s", KEY, key);
      checkArgument(fields.putIfAbsent(key, value) == null, "key %s given twice", key);
      return this;
    }
  }

  /** The record as one string, fields in the order they were put. */
  public String encode() {
    StringBuilder sb = new StringBuilder();
    fields.forEach((key, value) -> sb.append(sb.length() == 0 ? "" : ",").append(key).append('=').append(value));
    return sb.toString();
  }

  @Override
  public String toString() {
    return encode();
  }

  /**
   * Reads an {@link #encode}d record.
   *
   * @param what what the text is, named in every error about it
   */
  public static AttrRecord decode(String what, String encoded) {
    Map<String, String> fields = new LinkedHashMap<>();
    for (String field : encoded.isEmpty() ? new String[0] : encoded.split(",", -1)) {
      String[] kv = field.split("=", 2);
      checkArgument(kv.length == 2 && KEY.matcher(kv[0]).matches(), "%s: field '%s' is not key=value, in %s", what, field, encoded);
      checkArgument(fields.putIfAbsent(kv[0], kv[1]) == null, "%s: key %s given twice, in %s", what, kv[0], encoded);
    }
    return new AttrRecord(what, "", fields);
  }

  public int getInt(String key) {
    return number(key, Integer::parseInt, "an int");
  }

  public long getLong(String key) {
    return number(key, Long::parseLong, "a long");
  }

  public boolean getBoolean(String key) {
    String v = value(key);
    if (!v.equals("true") && !v.equals("false")) {
      throw new IllegalArgumentException(malformed(key, v, "true or false"));
    }
    return v.equals("true");
  }

  public String getString(String key) {
    return value(key);
  }

  /** The record put under {@code prefix}; it must have at least one field. */
  public AttrRecord record(String prefix) {
    return optionalRecord(prefix)
        .orElseThrow(() -> new IllegalArgumentException(String.format("%s: missing record %s%s, in %s", what, path, prefix, this)));
  }

  /** The record put under {@code prefix}, or empty where no field has that prefix. */
  public Optional<AttrRecord> optionalRecord(String prefix) {
    String start = prefix + ".";
    Map<String, String> nested = new LinkedHashMap<>();
    fields.forEach(
        (key, value) -> {
          if (key.startsWith(start)) {
            nested.put(key.substring(start.length()), value);
          }
        });
    return nested.isEmpty() ? Optional.empty() : Optional.of(new AttrRecord(what, path + start, nested));
  }

  private <V> V number(String key, Function<String, V> parse, String expected) {
    String v = value(key);
    try {
      return parse.apply(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(malformed(key, v, expected), e);
    }
  }

  private String value(String key) {
    String v = fields.get(key);
    checkArgument(v != null, "%s: missing key %s%s, in %s", what, path, key, this);
    return v;
  }

  private String malformed(String key, String value, String expected) {
    return String.format("%s: %s%s must be %s, got '%s', in %s", what, path, key, expected, value, this);
  }
}
