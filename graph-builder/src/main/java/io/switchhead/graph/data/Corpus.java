package io.switchhead.graph.data;

import static com.google.common.base.Preconditions.checkArgument;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Training and validation tokens of one corpus, with the split fixed by the data itself so every
 * run of the same data validates on the same tokens. What {@link #load} reads:
 *
 * <ul>
 *   <li>a token file {@code *.bin}: little-endian uint16 token ids (nanoGPT's format); the last
 *       {@value #VALIDATION_PERCENT}% is validation, the rest training;
 *   <li>any other file: text as byte tokens (vocabulary 256), split the same way; a file with NUL
 *       bytes or many control bytes (binary data) is refused, since its bytes would train as text;
 *   <li>a directory (not recursively): either {@code .bin} token files only, or text files only, each
 *       split as above and concatenated in name order, never a mix, since one corpus has one kind
 *       of token. In a text directory a file that is not text, a sub-directory or anything not a
 *       regular file is skipped, named in {@link #warnings} with why: a stray binary must not become
 *       tokens, and the rest of the directory is still what was asked for. A mix is refused.
 * </ul>
 *
 * @param source where the tokens came from, for messages
 * @param vocabulary token ids are below this (256 for bytes; for .bin, the largest id + 1)
 * @param warnings one line per file of a data directory that was skipped, naming it and why; a
 *     caller shows them to its user
 */
public record Corpus(String source, TokenArray train, TokenArray validation, int vocabulary, List<String> warnings) {

  public static final int VALIDATION_PERCENT = 5;

  public Corpus {
    checkArgument(train.length() > 0, "%s: no training tokens", source);
    checkArgument(validation.length() > 0, "%s: no validation tokens", source);
    warnings = List.copyOf(warnings);
  }

  public Corpus(String source, TokenArray train, TokenArray validation, int vocabulary) {
    this(source, train, validation, vocabulary, List.of());
  }

  /** Loads a text file, a .bin token file, or a directory of either (see the class comment). */
  public static Corpus load(Path path) {
    checkArgument(Files.exists(path), "data path %s does not exist", path);
    if (Files.isDirectory(path)) {
      return directory(path);
    }
    return isTokenFile(path) ? TokenCorpus.read(path.toString(), List.of(path), List.of())
        : TextCorpus.read(path.toString(), List.of(path), false, List.of());
  }

  /**
   * One text file, whole, as byte tokens: what a tool runs a byte-level model over (the routing
   * inspection). Refused, as {@link #load} refuses it, if it is not text; not split.
   */
  public static ByteTokens text(Path file) {
    checkArgument(Files.isRegularFile(file), "text file %s does not exist or is not a regular file", file);
    return TextCorpus.whole(file);
  }

  private static boolean isTokenFile(Path file) {
    return file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".bin");
  }

  private static Corpus directory(Path dir) {
    List<Path> entries;
    try (Stream<Path> list = Files.list(dir)) {
      entries = list.sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list data directory " + dir, e);
    }
    List<Path> tokenFiles = new ArrayList<>();
    List<Path> otherFiles = new ArrayList<>();
    List<String> skipped = new ArrayList<>();
    for (Path entry : entries) {
      if (Files.isDirectory(entry)) {
        skipped.add("skipped " + entry + ": a directory (data directories are not read recursively)");
      } else if (!Files.isRegularFile(entry)) {
        skipped.add("skipped " + entry + ": not a regular file");
      } else {
        (isTokenFile(entry) ? tokenFiles : otherFiles).add(entry);
      }
    }
    checkArgument(!tokenFiles.isEmpty() || !otherFiles.isEmpty(), "data directory %s has no files", dir);
    checkArgument(tokenFiles.isEmpty() || otherFiles.isEmpty(),
        "data directory %s mixes uint16 token files (%s) with other files (%s); a data directory holds .bin token "
            + "files or text files, not both", dir, names(tokenFiles), names(otherFiles));
    return tokenFiles.isEmpty() ? TextCorpus.read(dir.toString(), otherFiles, true, skipped)
        : TokenCorpus.read(dir.toString(), tokenFiles, skipped);
  }

  /** The first few file names, and how many more. */
  private static String names(List<Path> files) {
    int shown = 3;
    String first = files.stream().limit(shown).map(f -> f.getFileName().toString()).collect(Collectors.joining(", "));
    return files.size() <= shown ? first : first + " and " + (files.size() - shown) + " more";
  }
}
