package io.switchhead.graph.train;

import static com.google.common.base.Preconditions.checkArgument;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.google.common.collect.Lists;
import com.google.common.io.MoreFiles;
import com.google.common.io.RecursiveDeleteOption;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Checkpoint directories under {@code <out>/checkpoints}, written atomically: each is written under a
 * temporary name and renamed only when complete, then the manifest (written the same way) names it
 * with the size and SHA-256 of each of its files. A process killed at any moment leaves the previous
 * manifest pointing at a complete checkpoint; a half-written directory is never named by it and is
 * swept when a run starts or resumes ({@link #sweepLeftovers}) and at every save. The last
 * {@code keep} checkpoints are kept.
 *
 * <p>Before a checkpoint is used, {@link #latestVerified} checks it against the manifest and falls
 * back to the newest intact one kept, with a warning naming each damaged one.
 */
public final class Checkpoints {

  /**
   * What the manifest says: the latest complete checkpoint, those kept, and the digest of each file
   * of each kept checkpoint (empty in manifests written before digests were recorded).
   */
  public record Manifest(String latest, List<String> kept, Map<String, Map<String, FileDigest>> files) {
    public Manifest {
      files = files == null ? Map.of() : files;
    }
  }

  static final String MANIFEST = "manifest.json";
  static final String VARIABLES = "variables";
  static final String STATE = "state.json";
  /** The directory of the checkpoint of {@code step}: "step-" and the step in 9 digits. */
  private static String directoryName(long step) {
    return String.format(Locale.ROOT, "step-%09d", step);
  }

  /** The name of a complete checkpoint directory, "step-" and the step in 9 digits. */
  private static final Pattern STEP_NAME = Pattern.compile("step-[0-9]{9,}");
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
      String name = directoryName(step);
      Path finalDir = root.resolve(name);
      Path tmp = Files.createTempDirectory(root, name + ".partial-");
      writeVariables.accept(tmp.resolve(VARIABLES).toString());
      JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.resolve(STATE).toFile(), state);
      Map<String, FileDigest> digests = FileDigest.ofDirectory(tmp);
      deleteRecursively(finalDir); // an earlier save of the same step (or a damaged one), replaced
      Files.move(tmp, finalDir, StandardCopyOption.ATOMIC_MOVE);

      Optional<Manifest> previous = manifest();
      List<String> kept = new ArrayList<>(previous.map(Manifest::kept).orElse(List.of()));
      kept.remove(name);
      kept.add(name);
      List<String> dropped = new ArrayList<>();
      while (kept.size() > keep) {
        dropped.add(kept.remove(0));
      }
      Map<String, Map<String, FileDigest>> files = new TreeMap<>(previous.map(Manifest::files).orElse(Map.of()));
      files.put(name, digests);
      files.keySet().retainAll(kept);
      writeAtomically(root.resolve(MANIFEST), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(new Manifest(name, kept, files)));
      for (String old : dropped) {
        deleteRecursively(root.resolve(old));
      }
      sweepLeftovers();
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

  /** The directory of the latest complete checkpoint, as the manifest names it (not verified). */
  public Optional<Path> latest() {
    return manifest().map(m -> root.resolve(m.latest()));
  }

  /**
   * The newest intact checkpoint of the run in {@code runDirectory}: the manifest's latest if it
   * passes {@link #verify}, otherwise the newest kept one that does, each damaged one skipped with a
   * warning that names it and what is wrong. The one way training, generation and export load a
   * checkpoint.
   *
   * @param warnings receives one line per damaged or unverifiable checkpoint
   * @throws IllegalArgumentException if the run has no checkpoint, or none is intact (naming each
   *     and its damage)
   */
  public static VerifiedCheckpoint latestVerified(Path runDirectory, Consumer<String> warnings) {
    Checkpoints checkpoints = new Checkpoints(runDirectory, 1);
    Manifest manifest = checkpoints.manifest().orElseThrow(
        () -> new IllegalArgumentException("no complete checkpoint in " + checkpoints.root() + " (none was saved there yet)"));
    LinkedHashSet<String> newestFirst = new LinkedHashSet<>();
    newestFirst.add(manifest.latest());
    newestFirst.addAll(Lists.reverse(manifest.kept()));
    List<String> damage = new ArrayList<>();
    for (String name : newestFirst) {
      Map<String, FileDigest> digests = manifest.files().get(name);
      try {
        VerifiedCheckpoint verified = checkpoints.verify(name, digests);
        if (digests == null) {
          warnings.accept("checkpoint " + name + " was saved without file digests (by an earlier version): its variables were "
              + "checked against the CRCs of its own index, its state.json could not be checked");
        }
        if (!damage.isEmpty()) {
          warnings.accept("using checkpoint " + name + ", the newest intact one in " + checkpoints.root());
        }
        return verified;
      } catch (DamagedException e) {
        warnings.accept("checkpoint " + name + " is damaged and was skipped: " + e.getMessage());
        damage.add(name + ": " + e.getMessage());
      }
    }
    throw new IllegalArgumentException("no intact checkpoint in " + checkpoints.root() + ": " + String.join("; ", damage));
  }

  /**
   * The kept checkpoint of {@code step} in the run in {@code runDirectory}, verified as {@link
   * #latestVerified} verifies; no fallback, as the step was asked for.
   *
   * @throws IllegalArgumentException if the run keeps no checkpoint of that step (naming the steps it
   *     keeps) or that checkpoint is damaged (saying how)
   */
  public static VerifiedCheckpoint verified(Path runDirectory, long step) {
    Checkpoints checkpoints = new Checkpoints(runDirectory, 1);
    Manifest manifest = checkpoints.manifest().orElseThrow(
        () -> new IllegalArgumentException("no complete checkpoint in " + checkpoints.root() + " (none was saved there yet)"));
    String name = directoryName(step);
    checkArgument(manifest.kept().contains(name), "no checkpoint of step %s in %s; it keeps steps %s", step, checkpoints.root(),
        manifest.kept().stream().map(k -> Long.parseLong(k.substring(k.indexOf('-') + 1))).toList());
    try {
      return checkpoints.verify(name, manifest.files().get(name));
    } catch (DamagedException e) {
      throw new IllegalArgumentException("checkpoint " + checkpoints.root().resolve(name) + " is damaged: " + e.getMessage());
    }
  }

  /** A checkpoint that must not be used; the message says what is wrong with it. */
  private static final class DamagedException extends Exception {
    private static final long serialVersionUID = 1L;

    DamagedException(String problem) {
      super(problem, null, false, false);
    }
  }

  /**
   * Checks checkpoint {@code name}: its files against {@code digests} (when the manifest has them),
   * its state (readable, a step within the run), its index (readable) and its data files (long
   * enough for the index; without digests, every tensor against its CRC).
   */
  private VerifiedCheckpoint verify(String name, Map<String, FileDigest> digests) throws DamagedException {
    Path directory = root.resolve(name);
    if (!Files.isDirectory(directory)) {
      throw new DamagedException("its directory " + directory + " is missing");
    }
    if (digests != null) {
      Optional<String> problem = FileDigest.problem(directory, digests);
      if (problem.isPresent()) {
        throw new DamagedException(problem.get());
      }
    }
    String prefix = directory.resolve(VARIABLES).toString();
    RunState state;
    CheckpointIndex index;
    try {
      state = JSON.readValue(directory.resolve(STATE).toFile(), RunState.class);
      index = CheckpointIndex.read(prefix);
    } catch (IOException | UncheckedIOException | IllegalArgumentException e) {
      throw new DamagedException(reason(e));
    }
    Optional<String> dataProblem = index.dataProblem(prefix, digests == null);
    if (dataProblem.isPresent()) {
      throw new DamagedException(dataProblem.get());
    }
    return new VerifiedCheckpoint(directory, state, prefix, index);
  }

  /** The line that says what failed: Jackson's message without its source location, a file's error. */
  private static String reason(Exception e) {
    Throwable cause = e instanceof UncheckedIOException u ? u.getCause() : e;
    if (cause instanceof ValueInstantiationException v && v.getCause() != null) {
      return STATE + ": " + v.getCause().getMessage(); // the state's own check (a negative step, ...)
    }
    if (cause instanceof JsonProcessingException j) {
      return STATE + ": " + j.getOriginalMessage();
    }
    if (cause instanceof NoSuchFileException missing) {
      return Path.of(missing.getFile()).getFileName() + " is missing";
    }
    return e.getMessage();
  }

  /**
   * Deletes what a killed save leaves behind: half-written checkpoint directories and manifest
   * files, and, once a manifest exists, checkpoint directories it does not keep (one renamed into
   * place before the manifest named it, one dropped but not yet deleted). A run that starts or
   * resumes calls it; readers (generation, export) never do, as a run may be saving at that moment.
   */
  public void sweepLeftovers() {
    if (!Files.isDirectory(root)) {
      return;
    }
    // Without a manifest nothing says which step directories are the run's: leave them.
    List<String> kept = manifest().map(Manifest::kept).orElse(null);
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(root, p -> isLeftover(p.getFileName().toString(), kept))) {
      for (Path p : entries) {
        deleteRecursively(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot remove what killed saves left in " + root, e);
    }
  }

  private static boolean isLeftover(String name, List<String> kept) {
    return name.contains(".partial-") || (name.startsWith(MANIFEST) && name.endsWith(".tmp"))
        || (kept != null && STEP_NAME.matcher(name).matches() && !kept.contains(name));
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
