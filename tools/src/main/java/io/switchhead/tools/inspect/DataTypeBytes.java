package io.switchhead.tools.inspect;

import org.tensorflow.proto.DataType;

/** The size of one element of a TensorFlow data type, for the byte counts of variables and tensors. */
public final class DataTypeBytes {

  private DataTypeBytes() {}

  /** Bytes per element; 0 for types without a fixed size (strings, resources). */
  public static long of(DataType t) {
    return switch (t) {
      case DT_FLOAT, DT_INT32, DT_UINT32 -> 4;
      case DT_DOUBLE, DT_INT64, DT_UINT64, DT_COMPLEX64 -> 8;
      case DT_HALF, DT_BFLOAT16, DT_INT16, DT_UINT16 -> 2;
      case DT_INT8, DT_UINT8, DT_BOOL -> 1;
      default -> 0;
    };
  }
}
