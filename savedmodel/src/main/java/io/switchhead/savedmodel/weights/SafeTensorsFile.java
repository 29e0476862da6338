package io.switchhead.savedmodel.weights;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import org.tensorflow.ndarray.Shape;

/**
 * A safetensors file, read and written to the format's specification (huggingface/safetensors):
 *
 * <ol>
 *   <li>8 bytes: N, the header's length, an unsigned little-endian 64-bit integer;
 *   <li>N bytes: the header, a UTF-8 JSON object ({@link SafeTensorsHeader}): each tensor's dtype,
 *       shape and data_offsets, and optionally {@code __metadata__}, an object of strings;
 *   <li>the byte buffer: every tensor's elements, little-endian and row-major, at its offsets
 *       (counted from the buffer's start), each byte in exactly one tensor.
 * </ol>
 *
 * <p>{@link #read} checks all of it before it returns anything, and each refusal names the file and
 * the tensor; {@link #write} writes beside the target and renames, so no reader sees half a file.
 *
 * @param metadata the header's {@code __metadata__} (empty if it has none)
 * @param tensors by name, in the header's order
 */
public record SafeTensorsFile(ImmutableMap<String, String> metadata, ImmutableMap<String, Tensor> tensors) {

  /**
   * One tensor: its type, shape and elements' bytes, little-endian, row-major. The bytes are not
   * copied: whoever makes or reads one leaves them unchanged.
   */
  public record Tensor(Dtype dtype, Shape shape, byte[] data) {
    public Tensor {
      checkArgument(data.length == shape.size() * dtype.bytes(), "a %s tensor of shape %s takes %s bytes, got %s", dtype, shape,
          shape.size() * dtype.bytes(), data.length);
    }
  }

  /**
   * The longest header read (100 MB, the reference implementation's cap). A damaged or foreign file's
   * first 8 bytes read as a length can be anything up to 2^64: it is refused, not allocated.
   */
  static final long MAX_HEADER_BYTES = 100_000_000;

  public SafeTensorsFile {
    checkArgument(!tensors.containsKey(SafeTensorsHeader.METADATA), "a tensor cannot be called %s", SafeTensorsHeader.METADATA);
  }

  /**
   * Reads and checks a file: its length field, its header and the tiling of its byte buffer.
   *
   * @throws IllegalArgumentException naming the file, and the tensor where there is one, if the
   *     file is not a well-formed safetensors file
   * @throws UncheckedIOException if it cannot be read
   */
  public static SafeTensorsFile read(Path file) {
    try (FileChannel channel = FileChannel.open(file)) {
      long size = channel.size();
      check(size >= 8, file, "%s bytes, too short for the 8-byte header length", size);
      long headerBytes = bytesAt(channel, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
      // Unsigned: a negative long is a length of 2^63 or more.
      check(headerBytes >= 0 && headerBytes <= MAX_HEADER_BYTES, file, "the header length, %s bytes, is over the cap of %,d bytes: "
          + "not a safetensors file, or a damaged one", Long.toUnsignedString(headerBytes), MAX_HEADER_BYTES);
      check(headerBytes <= size - 8, file, "the header length, %s bytes, runs past the end of the file (%s bytes after the "
          + "length)", headerBytes, size - 8);
      SafeTensorsHeader header;
      try {
        header = SafeTensorsHeader.parse(bytesAt(channel, 8, (int) headerBytes).array());
        header.checkTiling(size - 8 - headerBytes);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
      }
      ImmutableMap.Builder<String, Tensor> tensors = ImmutableMap.builder();
      long dataStart = 8 + headerBytes;
      for (SafeTensorsHeader.Entry e : header.entries()) {
        long bytes = e.end() - e.begin();
        check(bytes <= Integer.MAX_VALUE, file, "tensor '%s' has %s bytes, more than one array holds (2^31 - 1)", e.name(), bytes);
        tensors.put(e.name(), new Tensor(e.dtype(), e.shape(), bytesAt(channel, dataStart + e.begin(), (int) bytes).array()));
      }
      return new SafeTensorsFile(header.metadata(), tensors.buildOrThrow());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }

  /**
   * Writes this file to {@code target}: beside it first, then renamed into place.
   *
   * @param overwrite replace an existing {@code target}; without it an existing one is refused
   */
  public void write(Path target, boolean overwrite) {
    checkArgument(overwrite || !Files.exists(target), "%s exists; pass --overwrite to replace it", target);
    ImmutableList.Builder<SafeTensorsHeader.Entry> entries = ImmutableList.builder();
    long offset = 0;
    for (Map.Entry<String, Tensor> t : tensors.entrySet()) {
      long end = offset + t.getValue().data().length;
      entries.add(new SafeTensorsHeader.Entry(t.getKey(), t.getValue().dtype(), t.getValue().shape(), offset, end));
      offset = end;
    }
    byte[] header = new SafeTensorsHeader(metadata, entries.build()).encode();
    Path parent = target.toAbsolutePath().getParent();
    try {
      Files.createDirectories(parent);
      Path partial = Files.createTempFile(parent, target.getFileName() + ".", ".partial");
      try {
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(partial), 1 << 20)) {
          out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
          out.write(header);
          for (Tensor t : tensors.values()) {
            out.write(t.data());
          }
        }
        Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } finally {
        Files.deleteIfExists(partial);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + target, e);
    }
  }

  private static void check(boolean condition, Path file, String problem, Object... args) {
    if (!condition) {
      throw new IllegalArgumentException(file + ": " + String.format(problem, args));
    }
  }

  private static ByteBuffer bytesAt(FileChannel channel, long position, int length) throws IOException {
    ByteBuffer buffer = ByteBuffer.allocate(length);
    while (buffer.hasRemaining()) {
      if (channel.read(buffer, position + buffer.position()) < 0) {
        throw new EOFException("the file ended at byte " + (position + buffer.position()) + " while reading it (changed meanwhile?)");
      }
    }
    return buffer.flip();
  }
}
