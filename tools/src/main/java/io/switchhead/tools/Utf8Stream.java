package io.switchhead.tools;

import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Bytes to text as they come, flushed after each: a character split across tokens is printed once
 * its last byte arrives, and bytes that are not UTF-8 become U+FFFD instead of stopping the stream.
 */
final class Utf8Stream {

  private final PrintWriter out;
  private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
      .onMalformedInput(CodingErrorAction.REPLACE).onUnmappableCharacter(CodingErrorAction.REPLACE);
  private final ByteBuffer pending = ByteBuffer.allocate(16);
  private final CharBuffer chars = CharBuffer.allocate(16);

  Utf8Stream(PrintWriter out) {
    this.out = out;
  }

  /** One byte (a byte-level token, 0..255). */
  void write(int token) {
    pending.put((byte) token);
    drain(false);
  }

  /** The end of the text: an unfinished character becomes U+FFFD. */
  void finish() {
    drain(true);
    decoder.flush(chars);
    emit();
  }

  private void drain(boolean endOfInput) {
    pending.flip();
    decoder.decode(pending, chars, endOfInput);
    pending.compact();
    emit();
  }

  private void emit() {
    chars.flip();
    out.append(chars);
    chars.clear();
    out.flush();
  }
}
