package io.switchhead.savedmodel.weights;

import java.util.Arrays;
import java.util.Optional;

/**
 * The element types a safetensors header names, with their sizes: those of the format's
 * specification whose elements are whole bytes. Sub-byte types (F4, F6_*) are not read: no model
 * here has them, and their packing would need its own rules.
 */
public enum Dtype {
  BOOL(1),
  U8(1),
  I8(1),
  F8_E5M2(1),
  F8_E4M3(1),
  F8_E8M0(1),
  I16(2),
  U16(2),
  F16(2),
  BF16(2),
  I32(4),
  U32(4),
  F32(4),
  F64(8),
  C64(8),
  I64(8),
  U64(8);

  private final int bytes;

  Dtype(int bytes) {
    this.bytes = bytes;
  }

  /** Bytes per element. */
  public int bytes() {
    return bytes;
  }

  /** The type a header calls {@code name} (case matters, as in the specification), if known. */
  public static Optional<Dtype> named(String name) {
    return Arrays.stream(values()).filter(d -> d.name().equals(name)).findFirst();
  }
}
