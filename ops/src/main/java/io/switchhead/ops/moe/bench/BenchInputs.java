package io.switchhead.ops.moe.bench;

import io.switchhead.ops.Tensors;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;

/** What the benchmarks share: their key=value arguments and their random inputs. */
final class BenchInputs {

  private BenchInputs() {}

  /** key=value arguments, in order. */
  static Map<String, String> options(String[] args) {
    Map<String, String> opts = new LinkedHashMap<>();
    for (String a : args) {
      String[] kv = a.split("=", 2);
      if (kv.length != 2) {
        throw new IllegalArgumentException("arguments are key=value, got " + a);
      }
      opts.put(kv[0], kv[1]);
    }
    return opts;
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
