package io.switchhead.graph.data;

import static com.google.common.base.Preconditions.checkArgument;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Text files as byte tokens (any ASCII-compatible encoding: no NUL bytes, few control bytes), the last {@value Corpus#VALIDATION_PERCENT}% of
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
        checkArgument(skipNonText, "%s is not text: %s; give text as a text file, or uint16 tokens as a .bin file", file, problem.get());
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

  /** One text file whole as byte tokens, with no validation split (see {@link Corpus#text}). */
  static ByteTokens whole(Path file) {
    byte[] bytes = readAll(file);
    checkArgument(bytes.length > 0, "%s is empty: there is no text to run the model on", file);
    Optional<String> problem = notText(bytes);
    checkArgument(problem.isEmpty(), "%s is not text: %s", file, problem.orElse(""));
    return new ByteTokens(bytes);
  }

  /**
   * What makes {@code bytes} not text, if anything: a NUL byte (binary data, or UTF-16), or more than
   * {@value #MAX_CONTROL_PERCENT}% control bytes (C0 controls other than tab, line feed, vertical
   * tab, form feed, carriage return and escape; and DEL). Any ASCII-compatible encoding is text here:
   * a byte-level model reads bytes, and the default corpus has books in Latin-1 as well as UTF-8.
   * Random bytes hold about 11% control bytes, and images and archives NUL bytes.
   */
  static Optional<String> notText(byte[] bytes) {
    long controls = 0;
    for (int i = 0; i < bytes.length; i++) {
      int b = bytes[i] & 0xff;
      if (b == 0) {
        return Optional.of("a NUL byte at offset " + i + " (binary data, or UTF-16)");
      }
      if (isControl(b)) {
        controls++;
      }
    }
    if (controls * 100 > (long) MAX_CONTROL_PERCENT * bytes.length) {
      return Optional.of(String.format(Locale.ROOT, "%,d control bytes in %,d (%.1f%%; text has under %d%%): binary data",
          controls, bytes.length, 100.0 * controls / bytes.length, MAX_CONTROL_PERCENT));
    }
    return Optional.empty();
  }

  /** Text has fewer control bytes than this percentage (the default corpus: 2 in 12 MB). */
  static final int MAX_CONTROL_PERCENT = 1;

  private static boolean isControl(int b) {
    return (b < 0x20 && b != '\t' && b != '\n' && b != 0x0b && b != '\f' && b != '\r' && b != 0x1b) || b == 0x7f;
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
