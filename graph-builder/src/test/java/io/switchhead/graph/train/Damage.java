package io.switchhead.graph.train;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.common.hash.Hashing;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;

/** Real damage to a run directory, as a full disk, a bad copy or an editing user leaves it. */
public final class Damage {

  private static final JsonMapper JSON = JsonMapper.builder().build();

  private Damage() {}

  /** The data file of the checkpoint in {@code checkpoint} (one shard). */
  public static Path dataFile(Path checkpoint) {
    return checkpoint.resolve(Checkpoints.VARIABLES + ".data-00000-of-00001");
  }

  public static Path indexFile(Path checkpoint) {
    return checkpoint.resolve(Checkpoints.VARIABLES + ".index");
  }

  /** Cuts {@code file} to {@code fraction} of its length. */
  public static void truncate(Path file, double fraction) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
      channel.truncate((long) (channel.size() * fraction));
    }
  }

  /** Flips some bits of one byte at a random position; returns the position. */
  public static int flipByte(Path file, Random random) throws IOException {
    byte[] bytes = Files.readAllBytes(file);
    int at = random.nextInt(bytes.length);
    bytes[at] ^= (byte) (1 + random.nextInt(255));
    Files.write(file, bytes);
    return at;
  }

  /** Rewrites the run's manifest as versions before file digests wrote it. */
  public static void forgetDigests(Path run) throws IOException {
    Path manifest = run.resolve("checkpoints").resolve(Checkpoints.MANIFEST);
    ObjectNode json = (ObjectNode) JSON.readTree(manifest.toFile());
    json.remove("files");
    JSON.writeValue(manifest.toFile(), json);
  }

  /** Replaces {@code regex} in a checkpoint's state.json, as a user editing it would. */
  public static void editState(Path checkpoint, String regex, String replacement) throws IOException {
    Path state = checkpoint.resolve(Checkpoints.STATE);
    String before = Files.readString(state);
    String after = before.replaceFirst(regex, replacement);
    if (after.equals(before)) {
      throw new IllegalArgumentException("no '" + regex + "' in " + state + ":\n" + before);
    }
    Files.writeString(state, after);
  }

  /** Every file under {@code directory} with its bytes, by relative path: compare two to see a change. */
  public static Map<String, String> snapshot(Path directory) throws IOException {
    Map<String, String> files = new TreeMap<>();
    try (Stream<Path> all = Files.walk(directory)) {
      all.filter(Files::isRegularFile).forEach(f -> files.put(directory.relativize(f).toString(), digest(f)));
    }
    return files;
  }

  /** Copies a run directory, to damage the copy. */
  public static Path copy(Path from, Path to) throws IOException {
    try (Stream<Path> all = Files.walk(from)) {
      for (Path p : (Iterable<Path>) all::iterator) {
        Files.copy(p, to.resolve(from.relativize(p).toString()));
      }
    }
    return to;
  }

  private static String digest(Path file) {
    try {
      return Hashing.sha256().hashBytes(Files.readAllBytes(file)).toString();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
