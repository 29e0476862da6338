package io.switchhead.graph.data;

import static com.google.common.base.Preconditions.checkArgument;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Text files as byte tokens: UTF-8 without NUL bytes, the last {@value Corpus#VALIDATION_PERCENT}% of
 * each file validation. Anything else (an image, an archive, random bytes, UTF-16) would train as if
 * it were text and report a bpc that measures nothing, so it is refused or, in a directory, skipped.
 */
final class TextCorpus {

  private TextCorpus() {}

  /**
   * @param skipNonText skip a file that is not text (with a warning) rather than refuse it
   * @param earlier warnings to report before this reader's own
   */
  static Corpus read(String source, List<Path> files, boolean skipNonText, List<String> earlier) {
    long size = 0;
    for (Path file : files) {
      size += size(file);
    }
    checkArgument(size < Integer.MAX_VALUE, "%s: text corpora above 2 GiB are not supported (%s bytes)", source, size);
    List<String> warnings = new ArrayList<>(earlier);
    List<byte[]> texts = new ArrayList<>();
    List<Path> skipped = new ArrayList<>();
    long total = 0;
    for (Path file : files) {
      byte[] bytes = readAll(file);
      Optional<String> problem = notText(bytes);
      if (problem.isPresent()) {
        checkArgument(skipNonText, "%s is not text: %s; give text as UTF-8, or uint16 tokens as a .bin file", file, problem.get());
        warnings.add("skipped " + file + ": not text, " + problem.get());
        skipped.add(file);
        continue;
      }
      total += bytes.length;
      texts.add(bytes);
    }
    checkArgument(total > 0, "%s: the corpus is empty%s", source, skipped.isEmpty() ? "" : " (every file was skipped as not text)");
    long validationTotal = texts.stream().mapToLong(t -> t.length - trainLength(t.length)).sum();
    byte[] train = new byte[(int) (total - validationTotal)];
    byte[] validation = new byte[(int) validationTotal];
    int t = 0;
    int v = 0;
    for (byte[] bytes : texts) {
      int split = trainLength(bytes.length);
      System.arraycopy(bytes, 0, train, t, split);
      System.arraycopy(bytes, split, validation, v, bytes.length - split);
      t += split;
      v += bytes.length - split;
    }
    return new Corpus(source, new ByteTokens(train), new ByteTokens(validation), ByteTokens.VOCABULARY, warnings);
  }

  /** What makes {@code bytes} not text, the first NUL byte or invalid UTF-8 sequence by offset, if anything. */
  static Optional<String> notText(byte[] bytes) {
    int invalid = firstInvalidUtf8(bytes);
    for (int i = 0; i < bytes.length && (invalid < 0 || i < invalid); i++) {
      if (bytes[i] == 0) {
        return Optional.of("a NUL byte at offset " + i + " (binary data, or UTF-16)");
      }
    }
    return invalid < 0 ? Optional.empty()
        : Optional.of(String.format("invalid UTF-8 (byte 0x%02x at offset %d)", bytes[invalid] & 0xff, invalid));
  }

  /**
   * The offset of the first malformed UTF-8 sequence, or -1. A sequence cut short by the end of the
   * file is not malformed: byte-level corpora are cut at a byte count (enwik8 is the first 10^8
   * bytes of a dump), and that cut may fall inside a character.
   */
  private static int firstInvalidUtf8(byte[] bytes) {
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(bytes);
    CharBuffer out = CharBuffer.allocate(8192);
    while (true) {
      CoderResult result = decoder.decode(in, out, false);
      if (result.isError()) {
        return in.position();
      }
      if (result.isUnderflow()) {
        return -1;
      }
      out.clear();
    }
  }

  /** Text files keep the split they have always had: the first 95% of each file (rounded up) trains. */
  private static int trainLength(int length) {
    return length - length * Corpus.VALIDATION_PERCENT / 100;
  }

  private static long size(Path file) {
    try {
      return Files.size(file);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read data file " + file, e);
    }
  }

  private static byte[] readAll(Path file) {
    try {
      return Files.readAllBytes(file);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read data file " + file, e);
    }
  }
}
