package io.switchhead.graph.params;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.hash.Hashing;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.buffer.DoubleDataBuffer;
import org.tensorflow.ndarray.buffer.FloatDataBuffer;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;

/** A parameter's initial value as a tensor made in Java: its initializer drawn from its own generator. */
public final class InitialValues {

  private InitialValues() {}

  /**
   * The generator of one parameter: seeded by a stable hash of the whole model seed and the path,
   * so each parameter's values depend on those two alone (not on build order or on the others).
   */
  public static SplittableRandom random(long modelSeed, String path) {
    long seed = Hashing.murmur3_128().newHasher().putLong(modelSeed).putString(path, StandardCharsets.UTF_8).hash().asLong();
    return new SplittableRandom(seed);
  }

  /**
   * A new tensor holding {@code spec}'s initial value under {@code modelSeed}; the caller closes it.
   *
   * @throws IllegalArgumentException for a type other than float32 and float64 (no parameter has one)
   */
  public static Tensor of(ParamSpec spec, long modelSeed) {
    SplittableRandom random = random(modelSeed, spec.path());
    if (spec.type() == TFloat32.class) {
      TFloat32 t = TFloat32.tensorOf(spec.shape());
      try {
        FloatDataBuffer data = t.asRawTensor().data().asFloats();
        spec.initializer().fill(spec.shape(), random, (i, v) -> data.setFloat((float) v, i));
        return t;
      } catch (RuntimeException e) {
        t.close();
        throw e;
      }
    }
    checkArgument(spec.type() == TFloat64.class, "parameter '%s' is %s: initial values are made for float32 and float64 only",
        spec.path(), spec.type().getSimpleName());
    TFloat64 t = TFloat64.tensorOf(spec.shape());
    try {
      DoubleDataBuffer data = t.asRawTensor().data().asDoubles();
      spec.initializer().fill(spec.shape(), random, (i, v) -> data.setDouble(v, i));
      return t;
    } catch (RuntimeException e) {
      t.close();
      throw e;
    }
  }
}
