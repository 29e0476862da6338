package io.switchhead.tools.bench;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * Writes NumPy's {@code .npy} format (version 1.0, little-endian, C order): the one array format
 * both {@code numpy.load} and a few lines of Java agree on, for handing a step's arguments to Python.
 */
final class Npy {

  private Npy() {}

  /** @param descr NumPy's type string: {@code <f4}, {@code <i4}, {@code <i8} */
  static void write(Path file, String descr, long[] shape, ByteBuffer littleEndianData) throws IOException {
    String dims = Arrays.stream(shape).mapToObj(Long::toString).collect(Collectors.joining(", "));
    String header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + (shape.length == 1 ? "," : "") + "), }";
    // The magic (6), version (2) and length (2) bytes, the header and its newline end on a multiple of 64.
    int padded = (10 + header.length() + 1 + 63) / 64 * 64 - 10;
    byte[] text = (header + " ".repeat(padded - header.length() - 1) + "\n").getBytes(StandardCharsets.US_ASCII);
    ByteBuffer preamble = ByteBuffer.allocate(10).order(ByteOrder.LITTLE_ENDIAN);
    preamble.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0).putShort((short) text.length);
    try (OutputStream out = Files.newOutputStream(file)) {
      out.write(preamble.array());
      out.write(text);
      byte[] data = new byte[littleEndianData.remaining()];
      littleEndianData.duplicate().get(data);
      out.write(data);
    }
  }
}
