package io.switchhead.savedmodel.weights;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkState;

import java.nio.ByteOrder;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

/**
 * Float32 tensors as little-endian bytes and back, by their raw buffers: the bytes move unchanged
 * (no float is read or written, so every bit pattern survives). A tensor's raw buffer is in the
 * machine's byte order, little-endian on every platform TensorFlow Java ships for.
 */
final class Float32Bytes {

  private Float32Bytes() {}

  /** The tensor's elements as little-endian bytes, row-major. */
  static byte[] of(TFloat32 tensor) {
    checkLittleEndian();
    byte[] bytes = new byte[Math.toIntExact(tensor.numBytes())];
    tensor.asRawTensor().data().read(bytes);
    return bytes;
  }

  /** A new tensor of {@code shape} holding little-endian {@code bytes}; the caller closes it. */
  static TFloat32 tensor(Shape shape, byte[] bytes) {
    checkLittleEndian();
    checkArgument(bytes.length == shape.size() * Float.BYTES, "shape %s takes %s bytes of float32, got %s", shape,
        shape.size() * Float.BYTES, bytes.length);
    return Tensor.of(TFloat32.class, shape, DataBuffers.of(bytes, true, false));
  }

  private static void checkLittleEndian() {
    checkState(ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN, "this machine is %s: its tensors' bytes would need swapping, "
        + "which is not written", ByteOrder.nativeOrder());
  }
}
