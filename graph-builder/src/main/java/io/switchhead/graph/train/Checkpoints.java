package io.switchhead.graph.train;

import static com.google.common.base.Preconditions.checkArgument;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.google.common.io.MoreFiles;
import com.google.common.io.RecursiveDeleteOption;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Checkpoint directories under {@code <out>/checkpoints}, written atomically: each is written under a
 * temporary name and renamed only when complete, then the manifest (written the same way) names it.
 * A process killed at any moment leaves the previous manifest pointing at a complete checkpoint; a
 * half-written directory is never named by it and is swept at the next save. The last {@code keep}
 * checkpoints are kept.
 */
public final class Checkpoints {

  /** What the manifest says: the latest complete checkpoint and those kept. */
  public record Manifest(String latest, List<String> kept) {}

  static final String MANIFEST = "manifest.json";
  static final String VARIABLES = "variables";
  static final String STATE = "state.json";
  private static final ObjectMapper JSON = JsonMapper.builder().build();

  private final Path root;
  private final int keep;

  public Checkpoints(Path outDirectory, int keep) {
    checkArgument(keep >= 1, "keep (%s) must be >= 1", keep);
    this.root = outDirectory.resolve("checkpoints");
    this.keep = keep;
  }

  public Path root() {
    return root;
  }

  /**
   * Writes a checkpoint for {@code step}: {@code writeVariables} receives the variables prefix to
   * save to, {@code state} is the trainer state written beside it as JSON.
   *
   * @return the checkpoint's directory
   */
  public Path save(long step, Consumer<String> writeVariables, Object state) {
    try {
      Files.createDirectories(root);
      String name = String.format("step-%09d", step);
      Path finalDir = root.resolve(name);
      Path tmp = Files.createTempDirectory(root, name + ".partial-");
      writeVariables.accept(tmp.resolve(VARIABLES).toString());
      JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.resolve(STATE).toFile(), state);
      deleteRecursively(finalDir); // an earlier save of the same step, never named as complete again
      Files.move(tmp, finalDir, StandardCopyOption.ATOMIC_MOVE);

      List<String> kept = new ArrayList<>(manifest().map(Manifest::kept).orElse(List.of()));
      kept.remove(name);
      kept.add(name);
      List<String> dropped = new ArrayList<>();
      while (kept.size() > keep) {
        dropped.add(kept.remove(0));
      }
      writeAtomically(root.resolve(MANIFEST), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(new Manifest(name, kept)));
      for (String old : dropped) {
        deleteRecursively(root.resolve(old));
      }
      sweepPartials();
      return finalDir;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write checkpoint of step " + step + " under " + root, e);
    }
  }

  /** The manifest, if a checkpoint was ever completed. */
  public Optional<Manifest> manifest() {
    Path file = root.resolve(MANIFEST);
    if (!Files.exists(file)) {
      return Optional.empty();
    }
    try {
      return Optional.of(JSON.readValue(file.toFile(), Manifest.class));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read checkpoint manifest " + file, e);
    }
  }

  /** The directory of the latest complete checkpoint. */
  public Optional<Path> latest() {
    return manifest().map(m -> root.resolve(m.latest()));
  }

  /** Reads a checkpoint's state JSON as {@code type}. */
  public static <T> T readState(Path checkpoint, Class<T> type) {
    Path file = checkpoint.resolve(STATE);
    try {
      return JSON.readValue(file.toFile(), type);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read checkpoint state " + file, e);
    }
  }

  /** The variables prefix of a checkpoint, for Session.restore. */
  public static String variablesPrefix(Path checkpoint) {
    return checkpoint.resolve(VARIABLES).toString();
  }

  private void sweepPartials() throws IOException {
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(root, "*.partial-*")) {
      for (Path p : entries) {
        deleteRecursively(p);
      }
    }
  }

  private static void writeAtomically(Path target, byte[] content) throws IOException {
    Path tmp = Files.createTempFile(target.getParent(), target.getFileName().toString(), ".tmp");
    Files.write(tmp, content);
    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /** Deletes a file or a directory tree; nothing if absent. */
  static void deleteRecursively(Path path) throws IOException {
    if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      MoreFiles.deleteRecursively(path, RecursiveDeleteOption.ALLOW_INSECURE);
    }
  }

}
