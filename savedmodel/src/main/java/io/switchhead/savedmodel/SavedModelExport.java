package io.switchhead.savedmodel;

import static com.google.common.base.Preconditions.checkArgument;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.google.common.io.MoreFiles;
import com.google.common.io.RecursiveDeleteOption;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.graph.train.Checkpoints;
import io.switchhead.graph.train.SavedVariables;
import io.switchhead.graph.train.VerifiedCheckpoint;
import io.switchhead.ops.GraphOps;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.tensorflow.Graph;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.op.Ops;

/**
 * Writes a run's checkpoint as a SavedModel for TF Serving: tag {@code serve}, the model's weights
 * only (no optimizer slots, no training memory, no training ops), the signatures of
 * {@link ServingSignatures}, and {@code export.json} beside {@code saved_model.pb} (the model
 * config, the source checkpoint and step, the vocabulary size, the signatures). The SavedModel is
 * written beside the target and renamed into place when complete, so a partial export never remains.
 */
public final class SavedModelExport {

  /**
   * What {@code export.json} records.
   *
   * @param xlaMarked the signatures whose computation is marked for XLA ({@link XlaMarks}); empty
   *     without {@code --xla}, and in exports written before it existed
   */
  public record Description(ModelConfig model, String checkpoint, long step, int vocabSize, String tag,
      Map<String, SignatureDescription> signatures, List<String> xlaMarked) {

    public Description {
      xlaMarked = xlaMarked == null ? List.of() : List.copyOf(xlaMarked);
    }
  }

  /**
   * How an export is written.
   *
   * @param overwrite replace an existing output directory; without it one is refused
   * @param xla mark the full-window signatures for XLA ({@link XlaMarks#FULL_WINDOW})
   */
  public record Options(boolean overwrite, boolean xla) {

    /** A new directory, no XLA marks. */
    public static Options plain() {
      return new Options(false, false);
    }
  }

  /** One signature: its method, inputs and outputs by name. */
  public record SignatureDescription(String method, List<String> inputs, List<String> outputs) {}

  static final String DESCRIPTION = "export.json";
  private static final ObjectMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

  private SavedModelExport() {}

  /**
   * Exports a run's checkpoint: that of {@code step}, or the newest intact one (see {@link
   * Checkpoints#latestVerified}). Either is verified before anything is written.
   *
   * @param warnings receives a line per damaged checkpoint skipped on the way to the newest intact one
   */
  public static Description export(Path runDirectory, OptionalLong step, Path outDir, boolean overwrite, Consumer<String> warnings) {
    return export(runDirectory, step, outDir, new Options(overwrite, false), warnings);
  }

  /** {@link #export(Path, OptionalLong, Path, boolean, Consumer)} with the options of {@code options}. */
  public static Description export(Path runDirectory, OptionalLong step, Path outDir, Options options, Consumer<String> warnings) {
    refuseExisting(outDir, options);
    return export(checkpoint(runDirectory, step, warnings), outDir, options);
  }

  /** The verified checkpoint of {@code step} in a run, or its newest intact one. */
  public static VerifiedCheckpoint checkpoint(Path runDirectory, OptionalLong step, Consumer<String> warnings) {
    return step.isPresent() ? Checkpoints.verified(runDirectory, step.getAsLong()) : Checkpoints.latestVerified(runDirectory, warnings);
  }

  /**
   * Exports a verified checkpoint to {@code outDir}.
   *
   * @param overwrite replace an existing {@code outDir}; without it an existing one is refused
   * @return what export.json says
   */
  public static Description export(VerifiedCheckpoint checkpoint, Path outDir, boolean overwrite) {
    return export(checkpoint, outDir, new Options(overwrite, false));
  }

  /** Exports a verified checkpoint to {@code outDir} as {@code options} say. */
  public static Description export(VerifiedCheckpoint checkpoint, Path outDir, Options options) {
    return write(checkpoint.state().model(), (store, session) -> checkpoint.restoreParameters(session, SavedVariables.of(session.graph())), 0,
        checkpoint.directory().toAbsolutePath().toString(), checkpoint.state().nextStep(), outDir, options);
  }

  /**
   * Exports a model with freshly initialised parameters (from {@code seed}), for benchmarks, which
   * time and do not read: what a server does with it is what it does with a trained one.
   */
  public static Description exportInitialised(ModelConfig model, long seed, Path outDir, Options options) {
    return write(model, ParamStore::initialize, seed, "none: parameters initialised from seed " + seed, 0, outDir, options);
  }

  private static void refuseExisting(Path outDir, Options options) {
    checkArgument(options.overwrite() || !Files.exists(outDir), "%s exists; pass --overwrite to replace it", outDir);
  }

  /** Writes beside {@code outDir}, then renames into place. */
  private static Description write(ModelConfig model, BiConsumer<ParamStore, Session> parameters, long seed, String source, long step, Path outDir,
      Options options) {
    refuseExisting(outDir, options);
    Path parent = outDir.toAbsolutePath().getParent();
    try {
      Files.createDirectories(parent);
      Path partial = Files.createTempDirectory(parent, outDir.getFileName() + ".partial-");
      try {
        Path written = partial.resolve("model");
        Map<String, SignatureDescription> signatures = writeSavedModel(model, parameters, seed, written, options.xla());
        List<String> marked = options.xla() ? XlaMarks.FULL_WINDOW : List.of();
        if (options.xla()) {
          XlaMarks.mark(written, marked);
        }
        Description description = new Description(model, source, step, model.vocabSize(), ServingSignatures.TAG, signatures, marked);
        JSON.writeValue(written.resolve(DESCRIPTION).toFile(), description);
        replace(written, outDir);
        return description;
      } finally {
        MoreFiles.deleteRecursively(partial, RecursiveDeleteOption.ALLOW_INSECURE);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the SavedModel " + outDir, e);
    }
  }

  /** What {@code export.json} beside a SavedModel says. */
  public static Description readDescription(Path savedModel) {
    Path file = savedModel.resolve(DESCRIPTION);
    try {
      return JSON.readValue(file.toFile(), Description.class);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }

  /**
   * The serving graph with {@code parameters} set, as a SavedModel in {@code dir}; returns its
   * signatures. With {@code xla} it holds the compiled {@code decode_token} too.
   */
  private static Map<String, SignatureDescription> writeSavedModel(ModelConfig model, BiConsumer<ParamStore, Session> parameters, long seed, Path dir,
      boolean xla) throws IOException {
    try (Graph graph = new Graph()) {
      Ops tf = GraphOps.create(graph);
      ParamStore store = ParamStore.variables(tf, seed);
      ServingGraph serving = ServingGraph.build(tf, model, store, xla);
      store.freeze();
      List<Signature> signatures = serving.signatures();
      try (Session session = new Session(graph)) {
        // A checkpoint restores the parameters by name; its optimizer slots and memories are not in this graph.
        parameters.accept(store, session);
        SavedModelBundle.exporter(dir.toString()).withTags(ServingSignatures.TAG).withSession(session)
            .withSignatures(signatures.toArray(new Signature[0])).export();
      }
      Map<String, SignatureDescription> described = new LinkedHashMap<>();
      for (Signature s : signatures) {
        described.put(s.key(), new SignatureDescription(s.methodName(), List.copyOf(s.inputNames()), List.copyOf(s.outputNames())));
      }
      return described;
    }
  }

  /** Moves {@code complete} to {@code target}, replacing what is there only once the new one is in place beside it. */
  private static void replace(Path complete, Path target) throws IOException {
    if (!Files.exists(target)) {
      Files.move(complete, target, StandardCopyOption.ATOMIC_MOVE);
      return;
    }
    Path old = Files.createTempDirectory(target.toAbsolutePath().getParent(), target.getFileName() + ".old-");
    Files.delete(old);
    Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
    Files.move(complete, target, StandardCopyOption.ATOMIC_MOVE);
    MoreFiles.deleteRecursively(old, RecursiveDeleteOption.ALLOW_INSECURE);
  }
}
