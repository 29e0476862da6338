package io.switchhead.ops;

import static com.google.common.base.Preconditions.checkArgument;

import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;

/** Copies between Java arrays and tensors (row-major). The caller closes every tensor made here. */
public final class Tensors {

  private Tensors() {}

  public static TFloat32 floats(Shape shape, float[] values) {
    checkArgument(shape.size() == values.length, "shape %s holds %s values, got %s", shape, shape.size(), values.length);
    return TFloat32.tensorOf(shape, DataBuffers.of(values, true, false));
  }

  public static TFloat64 doubles(Shape shape, double[] values) {
    checkArgument(shape.size() == values.length, "shape %s holds %s values, got %s", shape, shape.size(), values.length);
    return TFloat64.tensorOf(shape, DataBuffers.of(values, true, false));
  }

  public static TInt32 ints(Shape shape, int[] values) {
    checkArgument(shape.size() == values.length, "shape %s holds %s values, got %s", shape, shape.size(), values.length);
    return TInt32.tensorOf(shape, DataBuffers.of(values, true, false));
  }

  public static float[] toFloats(Tensor t) {
    checkArgument(t instanceof TFloat32, "expected a float32 tensor, got %s", t.dataType());
    float[] out = new float[Math.toIntExact(t.shape().size())];
    t.asRawTensor().data().asFloats().read(out);
    return out;
  }

  public static double[] toDoubles(Tensor t) {
    checkArgument(t instanceof TFloat64, "expected a float64 tensor, got %s", t.dataType());
    double[] out = new double[Math.toIntExact(t.shape().size())];
    t.asRawTensor().data().asDoubles().read(out);
    return out;
  }

  public static int[] toInts(Tensor t) {
    checkArgument(t instanceof TInt32, "expected an int32 tensor, got %s", t.dataType());
    int[] out = new int[Math.toIntExact(t.shape().size())];
    t.asRawTensor().data().asInts().read(out);
    return out;
  }
}
