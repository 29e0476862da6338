package io.switchhead.graph.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Tokens stored as little-endian uint16, the .bin format nanoGPT popularised, memory-mapped so a
 * file larger than the heap trains as well as a small one.
 */
public final class Uint16Tokens implements TokenArray {

  private final MappedByteBuffer buffer;
  private final long from;
  private final long to;

  private Uint16Tokens(MappedByteBuffer buffer, long from, long to) {
    this.buffer = buffer;
    this.from = from;
    this.to = to;
  }

  /** Maps a .bin file; its size must be a whole number of uint16 tokens. */
  public static Uint16Tokens map(Path file) {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = channel.size();
      if (size % 2 != 0) {
        throw new IllegalArgumentException(file + ": " + size + " bytes is not a whole number of uint16 tokens");
      }
      if (size > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(file + ": token files above 2 GiB are not supported yet (" + size + " bytes)");
      }
      MappedByteBuffer buffer = channel.map(FileChannel.MapMode.READ_ONLY, 0, size);
      buffer.order(ByteOrder.LITTLE_ENDIAN);
      return new Uint16Tokens(buffer, 0, size / 2);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read token file " + file, e);
    }
  }

  /** The tokens [from, to) of this array, sharing the mapping. */
  public Uint16Tokens slice(long start, long end) {
    return new Uint16Tokens(buffer, from + start, from + end);
  }

  @Override
  public long length() {
    return to - from;
  }

  @Override
  public int get(long index) {
    return buffer.getChar(Math.toIntExact(2 * (from + index)));
  }
}
