package io.switchhead.graph.data;

import static com.google.common.base.Preconditions.checkPositionIndexes;

/** Byte-level tokens: each byte of the text is one token in [0, 256). */
public final class ByteTokens implements TokenArray {

  /** The vocabulary of byte-level models. */
  public static final int VOCABULARY = 256;

  private final byte[] bytes;
  private final int from;
  private final int to;

  public ByteTokens(byte[] bytes) {
    this(bytes, 0, bytes.length);
  }

  /** A view of bytes[from, to), not a copy. */
  public ByteTokens(byte[] bytes, int from, int to) {
    checkPositionIndexes(from, to, bytes.length);
    this.bytes = bytes;
    this.from = from;
    this.to = to;
  }

  @Override
  public long length() {
    return to - from;
  }

  @Override
  public int get(long index) {
    return bytes[from + Math.toIntExact(index)] & 0xff;
  }
}
