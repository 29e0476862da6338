package io.switchhead.graph.train;

import com.google.common.collect.ImmutableSortedMap;
import com.google.common.hash.Hashing;
import com.google.common.io.MoreFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The size and SHA-256 of one file of a checkpoint, recorded in the manifest when the checkpoint is
 * saved and compared before it is used: a truncated, changed or missing file is found before
 * TensorFlow reads it. SHA-256 rather than a CRC so that a user can check a file by hand with
 * {@code sha256sum}.
 */
public record FileDigest(long bytes, String sha256) {

  /** The digest of every regular file directly in {@code directory}, by file name. */
  static ImmutableSortedMap<String, FileDigest> ofDirectory(Path directory) {
    ImmutableSortedMap.Builder<String, FileDigest> digests = ImmutableSortedMap.naturalOrder();
    try (Stream<Path> files = Files.list(directory)) {
      for (Path file : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
        digests.put(file.getFileName().toString(), of(file));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the files of " + directory, e);
    }
    return digests.buildOrThrow();
  }

  /**
   * What differs between the files of {@code directory} and {@code expected}, the first problem
   * found; files not listed (none are written) are ignored.
   */
  static Optional<String> problem(Path directory, Map<String, FileDigest> expected) {
    for (Map.Entry<String, FileDigest> e : expected.entrySet()) {
      Path file = directory.resolve(e.getKey());
      if (!Files.isRegularFile(file)) {
        return Optional.of(e.getKey() + " is missing");
      }
      try {
        long bytes = Files.size(file);
        if (bytes != e.getValue().bytes()) {
          return Optional.of(String.format("%s has %,d bytes, %,d when it was saved (%s)", e.getKey(), bytes,
              e.getValue().bytes(), bytes < e.getValue().bytes() ? "truncated" : "grown"));
        }
        if (!of(file).sha256().equals(e.getValue().sha256())) {
          return Optional.of(e.getKey() + " does not match the SHA-256 recorded when it was saved (its bytes changed)");
        }
      } catch (IOException | UncheckedIOException failure) {
        return Optional.of(e.getKey() + " cannot be read (" + failure.getMessage() + ")");
      }
    }
    return Optional.empty();
  }

  private static FileDigest of(Path file) throws IOException {
    return new FileDigest(Files.size(file), MoreFiles.asByteSource(file).hash(Hashing.sha256()).toString());
  }
}
