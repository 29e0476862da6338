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
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
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

  /** What {@code export.json} records. */
  public record Description(ModelConfig model, String checkpoint, long step, int vocabSize, String tag,
      Map<String, SignatureDescription> signatures) {}

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
    checkArgument(overwrite || !Files.exists(outDir), "%s exists; pass --overwrite to replace it", outDir);
    return export(checkpoint(runDirectory, step, warnings), outDir, overwrite);
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
    checkArgument(overwrite || !Files.exists(outDir), "%s exists; pass --overwrite to replace it", outDir);
    ModelConfig model = checkpoint.state().model();
    Path parent = outDir.toAbsolutePath().getParent();
    try {
      Files.createDirectories(parent);
      Path partial = Files.createTempDirectory(parent, outDir.getFileName() + ".partial-");
      try {
        Path written = partial.resolve("model");
        Description description = write(model, checkpoint, written);
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

  private static Description write(ModelConfig model, VerifiedCheckpoint checkpoint, Path dir)
      throws IOException {
    try (Graph graph = new Graph()) {
      Ops tf = Ops.create(graph);
      ParamStore store = ParamStore.variables(tf, 0);
      ServingGraph serving = ServingGraph.build(tf, model, store);
      store.freeze();
      List<Signature> signatures = serving.signatures();
      try (Session session = new Session(graph)) {
        // Restores the parameters by name; the checkpoint's optimizer slots and memories are not in this graph.
        checkpoint.restoreParameters(session, SavedVariables.of(graph));
        SavedModelBundle.exporter(dir.toString()).withTags(ServingSignatures.TAG).withSession(session)
            .withSignatures(signatures.toArray(new Signature[0])).export();
      }
      Map<String, SignatureDescription> described = new LinkedHashMap<>();
      for (Signature s : signatures) {
        described.put(s.key(), new SignatureDescription(s.methodName(), List.copyOf(s.inputNames()), List.copyOf(s.outputNames())));
      }
      return new Description(model, checkpoint.directory().toAbsolutePath().toString(), checkpoint.state().nextStep(), model.vocabSize(), ServingSignatures.TAG, described);
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
