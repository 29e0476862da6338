package io.switchhead.e2e;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What TensorFlow's {@code saved_model_cli show --dir D --all} lists, read back from its text: per
 * tag set, each SignatureDef's method name and its inputs and outputs (dtype, shape, tensor name).
 * The ops and functions it lists after them are not read.
 *
 * <p>The text is the one {@code saved_model_cli.py} of TensorFlow 2.21 prints ({@code _show_all},
 * {@code _print_tensor_info}); a line it does not recognise inside a SignatureDef is an error, so a
 * changed format fails loudly instead of listing nothing.
 *
 * @param tagSets the SignatureDefs by key, per tag set as printed ({@code serve}, or {@code serve, gpu})
 */
record SavedModelCliListing(Map<String, Map<String, Signature>> tagSets) {

  /** One SignatureDef as listed. */
  record Signature(String method, Map<String, Tensor> inputs, Map<String, Tensor> outputs) {}

  /**
   * One input or output as listed.
   *
   * @param dtype the DataType's name, {@code DT_INT32}
   * @param shape as printed: {@code (-1, -1, 256)}, {@code ()} for a scalar, {@code unknown_rank}
   * @param name the graph tensor, {@code tokens:0}
   */
  record Tensor(String dtype, String shape, String name) {

    /** The dimensions, -1 where dynamic; an unknown rank is an assertion error. */
    List<Long> dims() {
      if (!shape.startsWith("(") || !shape.endsWith(")")) {
        throw new AssertionError(name + " is listed with shape " + shape + ", not a list of dimensions");
      }
      String inside = shape.substring(1, shape.length() - 1).trim();
      return inside.isEmpty() ? List.of() : Arrays.stream(inside.split(",\\s*")).map(Long::valueOf).toList();
    }
  }

  private static final Pattern TAG_SET = Pattern.compile("MetaGraphDef with tag-set: '(.*)' contains the following SignatureDefs:");
  private static final Pattern SIGNATURE = Pattern.compile("signature_def\\['(.+)'\\]:");
  private static final Pattern SECTION = Pattern.compile(" {2}The given SavedModel SignatureDef contains the following (?:in|out)put\\(s\\):");
  private static final Pattern TENSOR = Pattern.compile(" {4}(inputs|outputs)\\['(.+)'\\] tensor_info:");
  private static final Pattern FIELD = Pattern.compile(" {8}(dtype|shape|name): (.+)");
  private static final Pattern METHOD = Pattern.compile(" {2}Method name is: (.*)");

  /** Reads the listing from {@code show --all}'s stdout. */
  static SavedModelCliListing parse(String stdout) {
    Map<String, Map<String, Signature>> tagSets = new LinkedHashMap<>();
    Map<String, Signature> signatures = null; // of the current tag set
    String key = null; // the SignatureDef being read, until its method line
    Map<String, Tensor> inputs = new LinkedHashMap<>();
    Map<String, Tensor> outputs = new LinkedHashMap<>();
    Map<String, Tensor> section = null;
    String tensor = null;
    Map<String, String> fields = new LinkedHashMap<>();
    for (String line : stdout.split("\n")) {
      Matcher m;
      if ((m = TAG_SET.matcher(line)).matches()) {
        signatures = new LinkedHashMap<>();
        tagSets.put(m.group(1), signatures);
      } else if (signatures != null && (m = SIGNATURE.matcher(line)).matches()) {
        key = m.group(1);
        inputs = new LinkedHashMap<>();
        outputs = new LinkedHashMap<>();
      } else if (key == null || line.isBlank() || SECTION.matcher(line).matches()) {
        continue; // outside a SignatureDef, or a heading inside one
      } else if ((m = TENSOR.matcher(line)).matches()) {
        section = m.group(1).equals("inputs") ? inputs : outputs;
        tensor = m.group(2);
        fields.clear();
      } else if (tensor != null && (m = FIELD.matcher(line)).matches()) {
        fields.put(m.group(1), m.group(2));
        if (fields.size() == 3) { // all three lines _print_tensor_info prints per tensor
          section.put(tensor, new Tensor(fields.get("dtype"), fields.get("shape"), fields.get("name")));
          tensor = null;
        }
      } else if ((m = METHOD.matcher(line)).matches()) {
        signatures.put(key, new Signature(m.group(1), Map.copyOf(inputs), Map.copyOf(outputs)));
        key = null;
      } else {
        throw new AssertionError("saved_model_cli listed a line not understood inside signature_def['" + key + "']: " + line);
      }
    }
    return new SavedModelCliListing(tagSets);
  }
}
