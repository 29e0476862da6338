package io.switchhead.tools.bench;

import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.Presets;
import java.nio.file.Path;
import java.util.List;

/** The {@code --models} words of the bench commands: preset names or config files. */
public final class ModelNames {

  private ModelNames() {}

  /** A config file by its name without {@code .json}, else a preset (whose error lists the known ones). */
  public static List<CompareBenchmark.Entry> entries(List<String> models) {
    return models.stream().map(m -> m.endsWith(".json")
        ? new CompareBenchmark.Entry(Path.of(m).getFileName().toString().replaceFirst("\\.json$", ""), ConfigJson.read(Path.of(m)))
        : new CompareBenchmark.Entry(m, Presets.get(m))).toList();
  }
}
