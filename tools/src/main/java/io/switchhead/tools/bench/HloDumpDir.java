package io.switchhead.tools.bench;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * What {@code --xla_dump_to} left in a directory: one group of files per compiled module, named
 * {@code module_NNNN.NAME.STAGE.txt} (and {@code .hlo.pb} with {@code --xla_dump_hlo_as_proto}),
 * where STAGE is {@code before_optimizations} or {@code cpu_after_optimizations} (on a GPU build,
 * the GPU's). The compiled training step is the module named after its signature key, {@code
 * train_step_...}; other clusters TensorFlow compiled are listed, not copied.
 */
record HloDumpDir(Path dir, ImmutableSortedMap<String, Module> modules) {

  /** The signature key {@code CompiledStep} gives the training step's function, which names its module. */
  static final String TRAINING_STEP_PREFIX = "train_step";

  private static final Pattern FILE = Pattern.compile("(module_[0-9]+\\.([^.]+)(?:\\.[0-9]+)?)\\.(before_optimizations|[a-z0-9_.]*after_optimizations)\\.(txt|hlo\\.pb)");

  /**
   * One module's dumped text and proto, before and after XLA's optimizations.
   *
   * @param name the module's name as XLA prints it, without the dump's numbering
   */
  record Module(String prefix, String name, Map<String, Path> files) {

    /** @param format {@code txt} or {@code hlo.pb} */
    Path file(String stage, String format) {
      return files.get(key(stage, format));
    }

    /** The stage after optimizations (its name says the backend: {@code cpu_after_optimizations}), or null if none was dumped. */
    String optimizedStage() {
      return files.keySet().stream().map(k -> k.substring(0, k.indexOf(' '))).filter(s -> s.endsWith("after_optimizations")).findFirst().orElse(null);
    }

    /** A stage may hold dots (a GPU's {@code sm_9.0_gpu_after_optimizations}), a space never. */
    static String key(String stage, String format) {
      return stage + " " + format;
    }
  }

  static HloDumpDir read(Path dir) {
    Map<String, Map<String, Path>> files = new TreeMap<>();
    Map<String, String> names = new TreeMap<>();
    if (Files.isDirectory(dir)) {
      try (Stream<Path> list = Files.list(dir)) {
        for (Path p : list.toList()) {
          Matcher m = FILE.matcher(p.getFileName().toString());
          if (m.matches()) {
            files.computeIfAbsent(m.group(1), k -> new TreeMap<>()).put(Module.key(m.group(3), m.group(4)), p);
            names.put(m.group(1), m.group(2));
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot list XLA's dump directory " + dir, e);
      }
    }
    ImmutableSortedMap.Builder<String, Module> modules = ImmutableSortedMap.naturalOrder();
    files.forEach((prefix, f) -> modules.put(prefix, new Module(prefix, names.get(prefix), Map.copyOf(f))));
    return new HloDumpDir(dir, modules.build());
  }

  /**
   * The training step's module: of those named after its signature key, the one with the largest
   * text before optimizations (one is expected; a recompiled step would add a second, the same).
   *
   * @throws IllegalStateException naming the modules that were dumped, if none is the step
   */
  Module trainingStep() {
    return modules.values().stream().filter(m -> m.name().startsWith(TRAINING_STEP_PREFIX) && m.file("before_optimizations", "txt") != null)
        .max(Comparator.comparingLong(m -> size(m.file("before_optimizations", "txt"))))
        .orElseThrow(() -> new IllegalStateException("XLA dumped no " + TRAINING_STEP_PREFIX + " module into " + dir + " (modules: "
            + modules.values().stream().map(Module::name).toList() + ")"));
  }

  /** The other modules' names: clusters compiled besides the step. */
  ImmutableList<String> others(Module step) {
    return ImmutableList.copyOf(modules.values().stream().filter(m -> m != step).map(Module::name).toList());
  }

  private static long size(Path p) {
    try {
      return Files.size(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** One entry parameter of an HLO module: XLA's element type name and dimensions. */
  record Parameter(String type, List<Long> dims) {}

  private static final Pattern LAYOUT = Pattern.compile("entry_computation_layout=\\{\\((.*?)\\)->");
  private static final Pattern SHAPE = Pattern.compile("([a-z]+[0-9]*)\\[([0-9,]*)\\]");

  /** The entry computation's parameters, read from the module text's header ({@code entry_computation_layout}). */
  static ImmutableList<Parameter> parameters(String moduleText) {
    String header = moduleText.lines().findFirst().orElse("");
    Matcher layout = LAYOUT.matcher(header);
    if (!layout.find()) {
      throw new IllegalStateException("the HLO module's first line has no entry_computation_layout: "
          + header.substring(0, Math.min(200, header.length())));
    }
    List<Parameter> params = new ArrayList<>();
    Matcher shape = SHAPE.matcher(layout.group(1));
    while (shape.find()) {
      List<Long> dims = shape.group(2).isEmpty() ? List.of() : Arrays.stream(shape.group(2).split(",")).map(Long::parseLong).toList();
      params.add(new Parameter(shape.group(1), dims));
    }
    return ImmutableList.copyOf(params);
  }
}
