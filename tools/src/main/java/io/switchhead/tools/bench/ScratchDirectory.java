package io.switchhead.tools.bench;

import com.google.common.io.MoreFiles;
import com.google.common.io.RecursiveDeleteOption;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The benchmarks' temporary directories: made under the system's temporary directory, removed afterwards. */
final class ScratchDirectory {

  private ScratchDirectory() {}

  /**
   * A new directory named {@code prefix...}.
   *
   * @param purpose what it is for, which the error names ("XLA's dump", "the exports")
   */
  static Path create(String prefix, String purpose) {
    try {
      return Files.createTempDirectory(prefix);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create a temporary directory for " + purpose, e);
    }
  }

  /** Removes {@code dir} and what it holds; one left behind is no reason to fail a benchmark (the system cleans it). */
  static void deleteQuietly(Path dir) {
    try {
      MoreFiles.deleteRecursively(dir, RecursiveDeleteOption.ALLOW_INSECURE);
    } catch (IOException e) {
      // A leftover temporary directory is harmless.
    }
  }
}
