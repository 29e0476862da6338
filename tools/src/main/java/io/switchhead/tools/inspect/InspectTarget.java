package io.switchhead.tools.inspect;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Presets;
import io.switchhead.graph.train.Checkpoints;
import io.switchhead.savedmodel.SavedModelExport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * What {@code inspect} was pointed at, and the model config it names.
 *
 * @param kind how the target was recognised
 * @param label the preset name or the path, as given
 * @param model the config: the preset's, the file's, the run's latest intact checkpoint's, or the
 *     one the export recorded
 * @param savedModel the SavedModel directory for {@link Kind#SAVED_MODEL}, else null
 */
public record InspectTarget(Kind kind, String label, ModelConfig model, Path savedModel) {

  public enum Kind { PRESET, CONFIG_FILE, RUN_DIRECTORY, SAVED_MODEL }

  /**
   * Recognises {@code target}: a preset name, a config JSON file, a run directory (it has
   * checkpoints/) or a SavedModel written by export (saved_model.pb and export.json).
   *
   * @param warnings receives a line per damaged checkpoint a run directory's lookup skips
   * @throws IllegalArgumentException naming the target and the four kinds, when it is none of them
   */
  public static InspectTarget resolve(String target, Consumer<String> warnings) {
    if (Presets.names().contains(target)) {
      return new InspectTarget(Kind.PRESET, target, Presets.get(target), null);
    }
    Path path = Path.of(target);
    if (Files.isRegularFile(path)) {
      return new InspectTarget(Kind.CONFIG_FILE, target, ConfigJson.read(path), null);
    }
    if (Files.isRegularFile(path.resolve("saved_model.pb"))) {
      checkArgument(Files.isRegularFile(path.resolve("export.json")),
          "%s is a SavedModel without export.json, so not one `switchhead export` wrote (its config is unknown)", target);
      return new InspectTarget(Kind.SAVED_MODEL, target, SavedModelExport.readDescription(path).model(), path);
    }
    if (Files.isDirectory(path.resolve("checkpoints"))) {
      return new InspectTarget(Kind.RUN_DIRECTORY, target, Checkpoints.latestVerified(path, warnings).state().model(), null);
    }
    throw new IllegalArgumentException(String.format(
        "'%s' is none of: a preset name (known: %s), a config JSON file, a run directory (with checkpoints/),"
            + " a SavedModel directory written by `switchhead export` (with saved_model.pb and export.json)",
        target, Presets.names()));
  }
}
