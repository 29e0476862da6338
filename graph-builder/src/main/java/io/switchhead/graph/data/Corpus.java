package io.switchhead.graph.data;

import static com.google.common.base.Preconditions.checkArgument;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Training and validation tokens of one corpus, with the split fixed by the data itself so every
 * run of the same data validates on the same tokens:
 *
 * <ul>
 *   <li>text (a file, or every regular file of a directory in name order): byte tokens; the last
 *       {@value #VALIDATION_PERCENT}% of each file is validation, the rest training;
 *   <li>a token file {@code *.bin} (uint16): the last {@value #VALIDATION_PERCENT}% is validation.
 * </ul>
 *
 * @param source where the tokens came from, for messages
 * @param vocabulary token ids are below this (256 for bytes; for .bin, the largest id + 1)
 */
public record Corpus(String source, TokenArray train, TokenArray validation, int vocabulary) {

  public static final int VALIDATION_PERCENT = 5;

  public Corpus {
    checkArgument(train.length() > 0, "%s: no training tokens", source);
    checkArgument(validation.length() > 0, "%s: no validation tokens", source);
  }

  /** Loads a text file, a directory of text files, or a .bin token file. */
  public static Corpus load(Path path) {
    checkArgument(Files.exists(path), "data path %s does not exist", path);
    if (Files.isDirectory(path)) {
      return text(path.toString(), filesIn(path));
    }
    if (path.getFileName().toString().endsWith(".bin")) {
      Uint16Tokens all = Uint16Tokens.map(path);
      checkArgument(all.length() >= 2, "%s: a token file needs at least 2 tokens, has %s", path, all.length());
      long split = all.length() - Math.max(1, all.length() * VALIDATION_PERCENT / 100);
      return new Corpus(path.toString(), all.slice(0, split), all.slice(split, all.length()), all.maxToken() + 1);
    }
    return text(path.toString(), List.of(path));
  }

  private static List<Path> filesIn(Path dir) {
    try (Stream<Path> files = Files.list(dir)) {
      List<Path> regular = files.filter(Files::isRegularFile).sorted().toList();
      checkArgument(!regular.isEmpty(), "data directory %s has no files", dir);
      return regular;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list data directory " + dir, e);
    }
  }

  private static Corpus text(String source, List<Path> files) {
    try {
      long total = 0;
      for (Path f : files) {
        total += Files.size(f);
      }
      checkArgument(total > 0, "%s: the corpus is empty", source);
      checkArgument(total < Integer.MAX_VALUE, "%s: text corpora above 2 GiB are not supported (%s bytes)", source, total);
      byte[] train = new byte[(int) total];
      byte[] validation = new byte[(int) total];
      int t = 0;
      int v = 0;
      for (Path f : files) {
        byte[] bytes = Files.readAllBytes(f);
        int split = bytes.length - bytes.length * VALIDATION_PERCENT / 100;
        System.arraycopy(bytes, 0, train, t, split);
        System.arraycopy(bytes, split, validation, v, bytes.length - split);
        t += split;
        v += bytes.length - split;
      }
      return new Corpus(source, new ByteTokens(train, 0, t), new ByteTokens(validation, 0, v), ByteTokens.VOCABULARY);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + source, e);
    }
  }
}
