package io.switchhead.tools.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.switchhead.graph.config.ConfigJson;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.tensorflow.TensorFlow;

/**
 * {@code bench hlo}: each model's compiled training step as XLA HLO, for running it on another XLA
 * (JAX's, on a GPU machine: {@code tools/src/main/python/hlo_bench.py}). Per model, a child JVM
 * ({@link HloStepChild}) builds the step and runs it with {@code --xla_dump_to}; the step's module is
 * copied into {@code OUT_DIR/NAME/}, and {@code OUT_DIR/manifest.json} says which file is which and
 * what each of the module's parameters is.
 */
public final class HloExport {

  /** The manifest's name in OUT_DIR. */
  public static final String MANIFEST = "manifest.json";

  /**
   * What XLA dumps: text and protos, before and after its optimizations. Without
   * {@code --xla_dump_large_constants} the text elides every large constant as {@code {...}}, which
   * a parser reads back without complaint as other values (the step then computes another loss).
   */
  private static final String DUMP_FLAGS = "--xla_dump_hlo_as_text --xla_dump_hlo_as_proto --xla_dump_large_constants";

  private static final ObjectMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

  /**
   * @param values also write each model's step arguments as {@code .npy} (NAME/values/), with
   *     TensorFlow's loss on them in the manifest, so another runtime can be checked
   */
  public record Request(List<CompareBenchmark.Entry> models, int batch, Path out, boolean values) {
    public Request {
      models = List.copyOf(models);
      if (models.isEmpty()) {
        throw new IllegalArgumentException("name at least one model (--models)");
      }
      if (batch < 1) {
        throw new IllegalArgumentException("--batch (" + batch + ") must be >= 1");
      }
    }
  }

  /** The whole manifest: where the modules came from and one entry per model. */
  record Manifest(String tensorflow, String cpu, String xlaFlags, List<Model> models) {}

  /**
   * One model's step.
   *
   * @param module the file a runtime compiles: the module before XLA's optimizations, which every
   *     backend optimizes for itself (the optimized one is this CPU's, with its layouts and fusions)
   * @param files every copied file by stage and format, relative to OUT_DIR
   * @param trainingStep the step's module name (the signature key {@code train_step} and a hash)
   * @param otherModules the other clusters XLA compiled in the same process, not copied
   * @param tensorflow what TensorFlow Java computed and measured for this step
   * @param values the directory of the arguments' {@code .npy} files, or null
   */
  record Model(String name, int batch, int context, int vocabSize, long parameters, String module, Map<String, String> files,
      String trainingStep, List<String> otherModules, List<HloStep.Slot> arguments, List<HloStep.Slot> outputs, TensorFlowRun tensorflow,
      String values) {}

  /**
   * @param loss the total loss on the written arguments (meaningful with {@code values})
   * @param stepMs median of the forward-and-backward steps after the compiling one
   */
  record TensorFlowRun(double loss, double lmLoss, double compileMs, double stepMs) {}

  /** A step that could not be built, compiled or dumped; the message says which and where the child's log is. */
  public static final class ExportFailure extends RuntimeException {
    ExportFailure(String message) {
      super(message);
    }
  }

  private HloExport() {}

  /** Writes every model's module and the manifest; the manifest is rewritten after each model, so a failure keeps the earlier ones. */
  public static void run(Request request, PrintWriter log) {
    Path out = request.out().toAbsolutePath().normalize();
    try {
      Files.createDirectories(out);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create OUT_DIR " + out, e);
    }
    if (!Files.isWritable(out)) {
      throw new IllegalArgumentException("OUT_DIR " + out + " is not writable");
    }
    String flags = System.getenv().getOrDefault("XLA_FLAGS", "");
    List<Model> models = new ArrayList<>();
    for (CompareBenchmark.Entry entry : request.models()) {
      log.println(entry.name() + ": building and compiling the training step at batch " + request.batch() + " in a child JVM ...");
      log.flush();
      Model model = export(entry, request, out);
      models.add(model);
      write(out.resolve(MANIFEST), new Manifest(TensorFlow.version(), CpuName.describe(), flags, models));
      log.printf(Locale.ROOT, "%s: %,d parameters, %d arguments, module %s; TensorFlow Java: compile %.1f s, step %.1f ms%n", entry.name(),
          model.parameters(), model.arguments().size(), model.module(), model.tensorflow().compileMs() / 1000, model.tensorflow().stepMs());
      log.flush();
    }
    log.println("wrote " + out.resolve(MANIFEST));
    log.flush();
  }

  private static Model export(CompareBenchmark.Entry entry, Request request, Path out) {
    Path work = ScratchDirectory.create("switchhead-hlo-", "XLA's dump");
    // Kept when the export fails: the child's log and XLA's dump are what the error points to.
    boolean exported = false;
    try {
      Path modelDir = out.resolve(entry.name());
      Files.createDirectories(modelDir);
      Path config = Files.writeString(work.resolve("config.json"), ConfigJson.write(entry.config()));
      Path result = work.resolve("step.json");
      Path dump = work.resolve("dump");
      Path valuesDir = modelDir.resolve("values");
      Path log = work.resolve("child.log");
      List<String> args = new ArrayList<>(List.of(config.toString(), Integer.toString(request.batch()), result.toString()));
      if (request.values()) {
        args.add(valuesDir.toString());
      }
      HloChildProcess.run(entry.name(), args, "--xla_dump_to=" + dump + " " + DUMP_FLAGS, log);
      HloStep step = JSON.readValue(result.toFile(), HloStep.class);
      HloDumpDir dumped = HloDumpDir.read(dump);
      HloDumpDir.Module module;
      try {
        module = dumped.trainingStep();
      } catch (IllegalStateException e) {
        throw new ExportFailure(entry.name() + ": " + e.getMessage() + "; is XLA_FLAGS overriding --xla_dump_to? (child log: " + log + ")");
      }
      checkParameters(entry.name(), firstLine(module.file("before_optimizations", "txt")), step.arguments());
      Map<String, String> files = new LinkedHashMap<>();
      for (String stage : Stream.of("before_optimizations", module.optimizedStage()).filter(s -> s != null).toList()) {
        for (String format : List.of("txt", "hlo.pb")) {
          Path from = module.file(stage, format);
          if (from != null) {
            Path to = modelDir.resolve(HloDumpDir.TRAINING_STEP_PREFIX + "." + stage + "." + format);
            Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
            files.put(stage + "." + format, out.relativize(to).toString());
          }
        }
      }
      Model model = new Model(entry.name(), request.batch(), entry.config().context(), entry.config().vocabSize(), step.parameters(),
          files.get("before_optimizations.txt"), files, module.name(), dumped.others(module), step.arguments(), step.outputs(),
          new TensorFlowRun(step.loss(), step.lmLoss(), step.compileMs(), step.stepMs()), request.values() ? out.relativize(valuesDir).toString() : null);
      exported = true;
      return model;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + entry.name() + "'s HLO under " + out, e);
    } finally {
      if (exported) {
        ScratchDirectory.deleteQuietly(work);
      }
    }
  }

  /** The module text's header, which holds the entry layout: the whole text runs to hundreds of MB at 47M. */
  private static String firstLine(Path moduleText) throws IOException {
    try (BufferedReader reader = Files.newBufferedReader(moduleText)) {
      String line = reader.readLine();
      return line == null ? "" : line;
    }
  }

  /** The module's parameters must be the step's arguments, shape for shape, or the manifest would misname them. */
  private static void checkParameters(String model, String moduleHeader, List<HloStep.Slot> arguments) {
    List<HloDumpDir.Parameter> params = HloDumpDir.parameters(moduleHeader);
    List<HloDumpDir.Parameter> expected = arguments.stream().map(a -> new HloDumpDir.Parameter(hloType(a.dtype()), a.shape())).toList();
    if (!params.equals(expected)) {
      throw new ExportFailure(model + ": the training step's HLO parameters " + params + " are not its signature's arguments " + expected);
    }
  }

  private static String hloType(String numpy) {
    return switch (numpy) {
      case "float32" -> "f32";
      case "int32" -> "s32";
      case "int64" -> "s64";
      default -> throw new IllegalArgumentException("no HLO type for " + numpy);
    };
  }

  private static void write(Path file, Manifest manifest) {
    try {
      JSON.writeValue(file.toFile(), manifest);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }
}
