package io.switchhead.tools.bench;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.ops.Tensors;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;

/** What the benchmarks share: their key=value arguments and their random inputs. */
final class BenchInputs {

  /** The default seed= of the random inputs, so that two runs time the same data unless told otherwise. */
  static final int DEFAULT_SEED = 1;

  private BenchInputs() {}

  /**
   * key=value arguments, in order. A key not in {@code known} (a typo would otherwise silently run
   * the defaults, minutes of the wrong benchmark) or given twice is an error that names it.
   */
  static Map<String, String> options(String[] args, Set<String> known) {
    Map<String, String> opts = new LinkedHashMap<>();
    for (String a : args) {
      String[] kv = a.split("=", 2);
      checkArgument(kv.length == 2, "arguments are key=value, got %s", a);
      checkArgument(known.contains(kv[0]), "unknown option %s; the options are %s", kv[0], new TreeSet<>(known));
      checkArgument(opts.put(kv[0], kv[1]) == null, "option %s given twice", kv[0]);
    }
    return opts;
  }

  /** A boolean option (true or false, nothing else), or its default. */
  static boolean booleanOption(Map<String, String> opts, String key, boolean orElse) {
    String v = opts.get(key);
    checkArgument(v == null || v.equals("true") || v.equals("false"), "%s must be true or false, got %s", key, v);
    return v == null ? orElse : Boolean.parseBoolean(v);
  }

  /** An int option, or its default. */
  static int intOption(Map<String, String> opts, String key, int orElse) {
    String v = opts.get(key);
    try {
      return v == null ? orElse : Integer.parseInt(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + " must be an integer, got " + v, e);
    }
  }

  /** Standard normal values. */
  static TFloat32 normal(Random random, long... dims) {
    Shape shape = Shape.of(dims);
    float[] v = new float[Math.toIntExact(shape.size())];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) random.nextGaussian();
    }
    return Tensors.floats(shape, v);
  }
}
