package io.switchhead.savedmodel.weights;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkState;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.google.common.collect.ImmutableMap;
import com.google.common.hash.Hashing;
import com.google.common.io.MoreFiles;
import com.google.common.io.RecursiveDeleteOption;
import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.params.ParamSpec;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.graph.train.Checkpoints;
import io.switchhead.graph.train.RunState;
import io.switchhead.graph.train.StepKind;
import io.switchhead.graph.train.StepSettings;
import io.switchhead.graph.train.TrainConfig;
import io.switchhead.graph.train.TrainingGraph;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.tensorflow.types.TFloat32;

/**
 * Makes a new run directory from a safetensors file: a normal run at step 0, as {@code train} would
 * start it, whose parameters are the file's instead of an initialisation. The Adam moments and XL
 * memories are zeros and the bias corrections start at step 0, as in any new run: the file holds
 * weights, not an optimizer's state. {@code train --resume} continues it, {@code generate} and
 * {@code export} read it. The run is written with the trainer's own graph and checkpoint writer,
 * beside the target, and renamed into place when complete; {@code import.json} in it records the
 * source file (path, SHA-256, metadata).
 *
 * <p>Everything is checked before anything is written: the file's format ({@link SafeTensorsFile}),
 * then its tensors against the model's parameters (names, dtype F32, shapes). A refusal names the
 * file and the tensors, and leaves no run directory.
 */
public final class WeightsImport {

  /**
   * A file's tensors, checked against the model and in the project's layout, ready to be written.
   *
   * @param values every parameter's little-endian float32 bytes, by path
   * @param source what {@code import.json} will record
   */
  public record Weights(ModelConfig model, Map<String, byte[]> values, Source source) {
    public Weights {
      values = ImmutableMap.copyOf(values);
    }
  }

  /** What an import wrote. */
  public record Imported(Path runDirectory, Path checkpoint, ModelConfig model, int tensors) {}

  /** What {@code import.json} records. */
  public record Source(String file, String sha256, Map<String, String> metadata) {}

  static final String RECORD = "import.json";
  /** How many problems a refusal lists. */
  private static final int SHOWN = 3;
  private static final ObjectMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

  private WeightsImport() {}

  /**
   * Imports {@code file} into the new run directory {@code runDirectory}: {@link #read}, then
   * {@link #write}.
   */
  public static Imported importRun(Path file, Optional<ModelConfig> model, TrainConfig train, Corpus corpus, Path runDirectory) {
    requireNew(runDirectory);
    return write(read(file, model), train, corpus, runDirectory);
  }

  /**
   * Reads {@code file} and checks its tensors against the model's parameters.
   *
   * @param model the model the tensors are for; empty: the model config the file's metadata records
   *     (as {@link WeightsExport} writes it)
   * @throws IllegalArgumentException naming the file and the tensors if it is malformed or does not
   *     hold the model's parameters
   */
  public static Weights read(Path file, Optional<ModelConfig> model) {
    SafeTensorsFile weights = SafeTensorsFile.read(file);
    ModelConfig config = model.orElseGet(() -> recordedModel(weights, file));
    Map<String, byte[]> values = parameters(weights, WeightNames.of(config), file);
    return new Weights(config, values, new Source(file.toAbsolutePath().toString(), sha256(file), weights.metadata()));
  }

  /**
   * Writes {@code weights} as the new run directory {@code runDirectory}.
   *
   * @param train the training settings the run records (a resume may change some, see
   *     {@link TrainConfig#checkContinues})
   * @param corpus the data the run records, as a new run on it would
   * @throws IllegalArgumentException if {@code runDirectory} exists or the corpus has token ids
   *     past the model's vocabulary
   */
  public static Imported write(Weights weights, TrainConfig train, Corpus corpus, Path runDirectory) {
    requireNew(runDirectory);
    ModelConfig config = weights.model();
    checkArgument(corpus.vocabulary() <= config.vocabSize(), "%s has token ids up to %s but the model's vocabSize is %s",
        corpus.source(), corpus.vocabulary() - 1, config.vocabSize());
    Path parent = runDirectory.toAbsolutePath().getParent();
    try {
      Files.createDirectories(parent);
      Path partial = Files.createTempDirectory(parent, runDirectory.getFileName() + ".partial-");
      try {
        Path checkpoint = writeRun(partial, config, train, corpus, weights.values());
        JSON.writeValue(partial.resolve(RECORD).toFile(), weights.source());
        Files.move(partial, runDirectory, StandardCopyOption.ATOMIC_MOVE);
        return new Imported(runDirectory, runDirectory.resolve(partial.relativize(checkpoint)), config, weights.values().size());
      } finally {
        if (Files.exists(partial)) {
          MoreFiles.deleteRecursively(partial, RecursiveDeleteOption.ALLOW_INSECURE);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the run directory " + runDirectory, e);
    }
  }

  /** An import never replaces a directory: a run's checkpoints may be there. */
  public static void requireNew(Path runDirectory) {
    checkArgument(!Files.exists(runDirectory), "%s exists; an import makes a new run directory", runDirectory);
  }

  /** The run's checkpoint of step 0: the training graph's variables, the parameters set to {@code values}. */
  private static Path writeRun(Path dir, ModelConfig model, TrainConfig train, Corpus corpus, Map<String, byte[]> values) {
    try (TrainingGraph graph = new TrainingGraph(model, StepSettings.of(train), EnumSet.of(StepKind.PLAIN))) {
      Map<String, TFloat32> tensors = new LinkedHashMap<>();
      try {
        for (ParamSpec s : graph.store().specs()) {
          byte[] value = values.get(s.path());
          checkState(value != null, "the training graph has a parameter '%s' that the forward graph has not", s.path());
          tensors.put(s.path(), Float32Bytes.tensor(s.shape(), value));
        }
        graph.assignParameters(tensors);
      } finally {
        tensors.values().forEach(TFloat32::close);
      }
      Map<String, TFloat32> buffers = new LinkedHashMap<>();
      try {
        for (ParamStore.Param b : graph.store().buffers()) {
          byte[] value = values.get(b.spec().path());
          checkState(value != null, "the training graph has a buffer '%s' that the forward graph has not", b.spec().path());
          buffers.put(b.spec().path(), Float32Bytes.tensor(b.spec().shape(), value));
        }
        graph.assignBuffers(buffers);
      } finally {
        buffers.values().forEach(TFloat32::close);
      }
      RunState state = new RunState(0, model, train, corpus.source(), List.of(), null);
      return new Checkpoints(dir, train.keepCheckpoints()).save(0, graph::save, state);
    }
  }

  /**
   * The project's bytes of every parameter, by path, from the file's tensors.
   *
   * @throws IllegalArgumentException naming the file and the tensors that are missing, extra, not
   *     F32 or of the wrong shape
   */
  static Map<String, byte[]> parameters(SafeTensorsFile weights, List<WeightName> names, Path file) {
    Map<String, WeightName> byName = new LinkedHashMap<>();
    names.forEach(n -> byName.put(n.name(), n));
    Map<String, String> problems = new TreeMap<>();
    byName.forEach((name, n) -> {
      if (!weights.tensors().containsKey(name)) {
        problems.put(name, "tensor '" + name + "' " + n.fileShape() + " is missing (parameter " + n.path() + ")");
      }
    });
    weights.tensors().forEach((name, t) -> {
      if (!byName.containsKey(name)) {
        problems.put(name, "tensor '" + name + "' " + t.shape() + " is not a parameter of the model");
      }
    });
    if (!problems.isEmpty()) {
      List<String> shown = new ArrayList<>(problems.values()).subList(0, Math.min(SHOWN, problems.size()));
      throw new IllegalArgumentException(String.format("%s does not hold the model's parameters (%d in the model, %d tensors in the "
          + "file; %d differences): %s%s", file, byName.size(), weights.tensors().size(), problems.size(), String.join("; ", shown),
          problems.size() > SHOWN ? "; ..." : ""));
    }
    Map<String, byte[]> values = new LinkedHashMap<>();
    for (WeightName n : names) {
      SafeTensorsFile.Tensor t = weights.tensors().get(n.name());
      checkArgument(t.dtype() == Dtype.F32, "%s: tensor '%s' is %s; the model's parameters are F32 (save them as float32)", file,
          n.name(), t.dtype());
      checkArgument(t.shape().equals(n.fileShape()), "%s: tensor '%s' has shape %s; the model needs %s (parameter %s %s, %s)", file,
          n.name(), t.shape(), n.fileShape(), n.path(), n.shape(), n.layout().description());
      values.put(n.path(), n.layout().fromFile(t.data(), n.shape(), Float.BYTES));
    }
    return values;
  }

  /** The model config of a file written by {@link WeightsExport}. */
  private static ModelConfig recordedModel(SafeTensorsFile weights, Path file) {
    String json = weights.metadata().get(WeightsExport.MODEL);
    checkArgument(json != null, "%s records no model config in its __metadata__ (it was not written by weights export): "
        + "say which model its tensors are (a preset or a config)", file);
    return ConfigJson.read(json, file + " __metadata__ " + WeightsExport.MODEL);
  }

  private static String sha256(Path file) {
    try {
      return com.google.common.io.Files.asByteSource(file.toFile()).hash(Hashing.sha256()).toString();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }
}
