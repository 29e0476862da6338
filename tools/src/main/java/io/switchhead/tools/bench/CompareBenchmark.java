package io.switchhead.tools.bench;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.base.Stopwatch;
import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import io.switchhead.graph.accounting.ParameterCount;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.train.AdamW;
import io.switchhead.graph.train.StepKind;
import io.switchhead.graph.train.StepSettings;
import io.switchhead.graph.train.TrainingGraph;
import io.switchhead.tools.inspect.DataTypeBytes;
import org.tensorflow.proto.DataType;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * {@code bench compare}: whole training steps (forward, backward, clip, AdamW) of several models,
 * all built in one process and timed interleaved, repetition by repetition, so that a noisy
 * machine slows them alike and their ratios hold. Beside each time: the FLOPs the step's matmuls
 * executed (from TensorFlow's trace of a step), the fraction of this machine's matmul limit that
 * is (the limit measured around each repetition, so that a shared machine's changing load
 * moves the step and its limit together), and the step's memory from TensorFlow's allocator accounting. Optionally, one model after
 * another: the inference speed of its serving graph ({@link GenerationBenchmark}), and its
 * validation bpc after training the same steps on the same data ({@link QualityRun}).
 */
public final class CompareBenchmark {

  /** A model to compare, by the name a reader knows it by (a preset, or a config file's name). */
  public record Entry(String name, ModelConfig config) {}

  /**
   * @param batch sequences per step
   * @param steps timed steps per repetition (a repetition's figure is their mean)
   * @param repeats repetitions, interleaved across the models
   * @param xla also time each model's XLA-compiled step
   * @param qualitySteps training steps per model for the validation bpc; 0 for none
   * @param inferenceTokens tokens each model's serving graph generates per repetition for the
   *     inference figures ({@link GenerationBenchmark}); 0 for none
   * @param pytorch the Python (with torch) of the eager PyTorch reference ({@link PyTorchStep}), run
   *     once per model after each repetition of the project's steps; empty for none
   */
  public record Settings(int batch, int steps, int repeats, boolean xla, long qualitySteps, int inferenceTokens, Optional<Path> pytorch) {
    public Settings {
      checkArgument(pytorch != null, "pytorch is Optional.empty() for no PyTorch reference, not null");
      checkArgument(inferenceTokens >= 0, "--inference (%s) must be >= 0 (0: no inference figures)", inferenceTokens);
      checkArgument(batch >= 1, "--batch (%s) must be >= 1", batch);
      checkArgument(steps >= 1, "--steps (%s) must be >= 1", steps);
      checkArgument(repeats >= 1, "--repeats (%s) must be >= 1", repeats);
      checkArgument(qualitySteps >= 0, "--quality (%s) must be >= 0 (0: no quality runs)", qualitySteps);
    }
  }

  /**
   * How far the allocator's bytes in use rose during a plain step above what it held just before
   * (every model's variables, what oneDNN keeps between steps).
   *
   * @param peak the step's whole rise: activations, gradients, the update's temporaries
   * @param activations the rise while the forward pass ran: what it keeps for the backward pass,
   *     the memory a model's design decides (the gradients are the parameters' size whatever the
   *     model)
   */
  public record StepBytes(long peak, long activations) {}

  /** Milliseconds per step: the median repetition and the fastest and slowest. */
  public record Timing(double median, double min, double max) {

    /** Of one figure per repetition. */
    static Timing of(List<Double> perRepetition) {
      double[] ms = perRepetition.stream().mapToDouble(Double::doubleValue).sorted().toArray();
      return new Timing(ms[ms.length / 2], ms[0], ms[ms.length - 1]);
    }
  }

  /**
   * A model's eager PyTorch reference step, one child run per repetition.
   *
   * @param parameters its count, equal to the project's (the script refuses another)
   * @param firstLoss the first run's loss at initialisation
   * @param peakRssBytes the largest peak resident memory of its runs (each its own process)
   * @param jvmCores the most CPU this JVM used while one of its runs ran, in cores (0: none of the
   *     cores the child timed on were taken)
   */
  public record PyTorchFigures(Timing millis, long parameters, double firstLoss, long peakRssBytes, double jvmCores) {}

  /** One PyTorch run and the cores this JVM used meanwhile. */
  private record PyTorchRun(PyTorchStep.Run run, double jvmCores) {}

  /**
   * One model's step of one kind.
   *
   * @param shareOfLimit each repetition's GFLOP/s over the matmul limit measured around it (the
   *     better of the measurements just before and just after its steps): median, min and max
   * @param stepMacs matmul MACs of one step, counted in the plain graph's trace (the compiled step
   *     computes the same products)
   * @param variableBytes bytes of the graph's variables: parameters, AdamW slots, buffers, XL memory
   * @param stepBytes how far the allocator's bytes in use rose during the plain step above what
   *     it held just before, in all and by the end of its forward pass. Empty for the compiled
   *     step, whose buffers XLA allocates inside its one node, out of TensorFlow's sight, and where
   *     none was traced
   * @param rssGrowthBytes how much the process's resident memory grew while the model's graph was
   *     built, its session started and its first steps ran
   * @param profile the plain step's node time by part of the model and op type ({@link StepTrace#micros}); empty
   *     for the compiled step, one node to TensorFlow's trace
   * @param partMacs the plain step's matmul MACs by part of the model ({@link StepTrace#macsByPart}); empty for the compiled step
   * @param kept what the plain step's forward pass keeps for the backward one, by part of the
   *     model and op type ({@link StepTrace#keptBytes}); empty for the compiled step
   * @param overlap how many of the plain step's nodes ran at once ({@link StepTrace#overlap}); empty for the compiled step
   */
  public record Row(Entry entry, StepKind kind, long parameters, Timing millis, Timing shareOfLimit, long tokensPerStep, long stepMacs,
      long variableBytes,
      Optional<StepBytes> stepBytes, long rssGrowthBytes, ImmutableMap<StepTrace.Maker, Long> profile, ImmutableMap<String, Long> partMacs,
      ImmutableMap<StepTrace.Maker, Long> kept, Optional<NodeOverlap> overlap) {

    public double tokensPerSecond() {
      return tokensPerStep / (millis.median() / 1e3);
    }

    public double gflops() {
      return gflops(stepMacs, millis.median());
    }

    /** GFLOP/s of a step of {@code macs} matmul multiply-accumulates that took {@code millis}. */
    static double gflops(long macs, double millis) {
      return 2.0 * macs / (millis / 1e3) / 1e9;
    }

  }

  /**
   * @param reference the entry the ratios are to
   * @param matmulGflops the machine's limit, measured before and after each repetition's timed steps, in order
   * @param inference by entry name, in entry order; empty without inference figures
   * @param quality by entry name, in entry order; empty without quality runs
   * @param pytorch by entry name, in entry order; empty without the PyTorch reference
   */
  public record Figures(ImmutableList<Row> rows, String reference, ImmutableList<Double> matmulGflops,
      ImmutableMap<String, GenerationBenchmark.Figures> inference, ImmutableMap<String, QualityRun.Quality> quality, long peakRssBytes,
      Settings settings, ImmutableMap<String, PyTorchFigures> pytorch) {

    public Row referenceRow(StepKind kind) {
      return row(reference, kind);
    }

    /** The row of the entry named {@code name} and step {@code kind}. */
    public Row row(String name, StepKind kind) {
      return rows.stream().filter(r -> r.entry().name().equals(name) && r.kind() == kind).findFirst().orElseThrow();
    }

    /**
     * The best of the measurements: what the machine can do. Other load on a shared machine
     * only slows a measurement, and an average would let a slowed one flatter every step's share.
     */
    public double limit() {
      return matmulGflops.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
    }
  }

  /** The size of the square matmul that measures the machine's limit. */
  static final int LIMIT_MATMUL_SIZE = 2048;

  /** Timed runs of that matmul each time the limit is measured around a repetition (about 0.1 s each at 200 GFLOP/s). */
  private static final int LIMIT_RUNS_PER_REPETITION = 3;

  private CompareBenchmark() {}

  /**
   * @param reference which entry the ratios are to
   * @param corpus the data of the quality runs; called only when {@code settings.qualitySteps() > 0}
   */
  public static Figures measure(List<Entry> entries, String reference, Settings settings, Supplier<Corpus> corpus, PrintWriter log) {
    checkArgument(!entries.isEmpty(), "give at least one model to compare");
    checkArgument(entries.stream().anyMatch(e -> e.name().equals(reference)), "the reference %s is not among the models compared (%s)",
        reference, entries.stream().map(Entry::name).toList());
    checkArgument(entries.stream().map(Entry::name).distinct().count() == entries.size(), "a model is listed twice: %s",
        entries.stream().map(Entry::name).toList());
    List<StepKind> kinds = settings.xla() ? List.of(StepKind.PLAIN, StepKind.XLA) : List.of(StepKind.PLAIN);
    double limitBefore = MatmulLimit.gflops(LIMIT_MATMUL_SIZE, 5);
    log.printf(Locale.ROOT, "matmul limit (%d^3, float32): %.0f GFLOP/s%n", LIMIT_MATMUL_SIZE, limitBefore);
    // Measured again just before and just after each repetition's steps: a repetition's share of
    // the limit is against the machine as it was while that repetition ran.
    List<Double> limits = new ArrayList<>();
    List<Timed> timed = new ArrayList<>();
    // By entry name: each repetition's PyTorch run, made between the project's repetitions so that
    // both are measured through the same stretch of a shared machine's load.
    java.util.Map<String, List<PyTorchRun>> pytorchRuns = new java.util.LinkedHashMap<>();
    Path pytorchWork = settings.pytorch().isPresent() ? ScratchDirectory.create("bench-pytorch", "the PyTorch reference's config and logs") : null;
    try (AllocatorProbe probe = new AllocatorProbe()) {
      for (Entry e : entries) {
        timed.add(Timed.build(e, kinds, settings, probe, log));
      }
      for (int r = 0; r < settings.repeats(); r++) {
        limits.add(r == 0 ? limitBefore : MatmulLimit.gflops(LIMIT_MATMUL_SIZE, LIMIT_RUNS_PER_REPETITION));
        for (Timed t : timed) {
          for (StepKind kind : kinds) {
            t.timeRepetition(kind, settings.steps());
          }
        }
        limits.add(MatmulLimit.gflops(LIMIT_MATMUL_SIZE, LIMIT_RUNS_PER_REPETITION));
        for (Entry e : settings.pytorch().isPresent() ? entries : List.<Entry>of()) {
          long waited = JvmCpu.awaitQuiet();
          JvmCpu.Since started = JvmCpu.Since.now();
          PyTorchStep.Run run = PyTorchStep.run(new PyTorchStep.Request(settings.pytorch().get(), e, settings.batch(), settings.steps()), pytorchWork);
          double cores = started.cores();
          log.printf(Locale.ROOT, "  PyTorch %s: %.1f ms/step, %,d parameters (checked); this JVM used %.2f cores meanwhile%s%n", e.name(),
              run.millis(), run.parameters(), cores, waited > 1000 ? String.format(Locale.ROOT, " (waited %.1f s for it to be quiet)", waited / 1e3) : "");
          pytorchRuns.computeIfAbsent(e.name(), n -> new ArrayList<>()).add(new PyTorchRun(run, cores));
        }
        log.printf("repetition %d of %d done%n", r + 1, settings.repeats());
        log.flush();
      }
      ImmutableList.Builder<Row> rows = ImmutableList.builder();
      for (Timed t : timed) {
        for (StepKind kind : kinds) {
          rows.add(t.row(kind, limits));
        }
      }
      long peakRss = ProcessMemory.peakResidentBytes();
      timed.forEach(Timed::close);
      timed.clear();
      ImmutableMap.Builder<String, GenerationBenchmark.Figures> inference = ImmutableMap.builder();
      if (settings.inferenceTokens() > 0) {
        for (Entry e : entries) {
          log.printf("serving %s: %d tokens per repetition ...%n", e.name(), settings.inferenceTokens());
          log.flush();
          inference.put(e.name(), GenerationBenchmark.measure(e.config(), settings.inferenceTokens(), settings.repeats(), log));
        }
      }
      ImmutableMap.Builder<String, QualityRun.Quality> quality = ImmutableMap.builder();
      if (settings.qualitySteps() > 0) {
        Corpus data = corpus.get();
        for (Entry e : entries) {
          log.printf("training %s for %d steps ...%n", e.name(), settings.qualitySteps());
          log.flush();
          QualityRun.Quality q = QualityRun.train(e.config(), settings.batch(), settings.qualitySteps(), data);
          log.printf(Locale.ROOT, "  validation %.4f bpc, %.0f tokens/s%n", q.validationBpc(), q.tokensPerSecond());
          quality.put(e.name(), q);
        }
      }
      ImmutableMap.Builder<String, PyTorchFigures> pytorch = ImmutableMap.builder();
      pytorchRuns.forEach((name, runs) -> pytorch.put(name, new PyTorchFigures(Timing.of(runs.stream().map(r -> r.run().millis()).toList()),
          runs.get(0).run().parameters(), runs.get(0).run().firstLoss(), runs.stream().mapToLong(r -> r.run().peakRssBytes()).max().orElseThrow(),
          runs.stream().mapToDouble(PyTorchRun::jvmCores).max().orElseThrow())));
      return new Figures(rows.build(), reference, ImmutableList.copyOf(limits), inference.buildOrThrow(), quality.buildOrThrow(),
          peakRss, settings, pytorch.buildOrThrow());
    } finally {
      timed.forEach(Timed::close);
      if (pytorchWork != null) {
        ScratchDirectory.deleteQuietly(pytorchWork);
      }
    }
  }

  /** One model's training graph with its steps built, and the times taken so far. */
  private static final class Timed implements AutoCloseable {
    private final Entry entry;
    private final TrainingGraph graph;
    private final int[] tokens;
    private final int batch;
    private final StepTrace trace;
    private final Optional<StepBytes> stepBytes;
    private final long variableBytes;
    private final long rssGrowth;
    private final java.util.Map<StepKind, List<Double>> millis = new java.util.EnumMap<>(StepKind.class);
    private long step;

    private Timed(Entry entry, TrainingGraph graph, int[] tokens, int batch, StepTrace trace, Optional<StepBytes> stepBytes, long rssGrowth) {
      this.stepBytes = stepBytes;
      this.variableBytes = graph.variables().values().stream()
          .mapToLong(v -> v.shape().size() * bytesPerElement(v.dtype())).sum();
      this.entry = entry;
      this.graph = graph;
      this.tokens = tokens;
      this.batch = batch;
      this.trace = trace;
      this.rssGrowth = rssGrowth;
    }

    static Timed build(Entry e, List<StepKind> kinds, Settings settings, AllocatorProbe probe, PrintWriter log) {
      log.printf("building %s ...%n", e.name());
      log.flush();
      long before = ProcessMemory.residentBytes();
      ModelConfig c = e.config();
      int[] tokens = new SplittableRandom(7).ints((long) settings.batch() * (c.context() + 1), 0, c.vocabSize()).toArray();
      TrainingGraph graph = new TrainingGraph(c, new StepSettings(settings.batch(), 1, AdamW.paper(0), 0.25), EnumSet.copyOf(kinds));
      try {
        long step = 0;
        for (StepKind kind : kinds) {
          graph.use(kind);
          for (int i = 0; i < 2; i++) {
            graph.step(tokens, step++, 1, 1e-4, true); // compile and warm up
          }
        }
        graph.use(StepKind.PLAIN);
        Optional<Long> floor = probe.bytesInUse();
        StepTrace trace = StepTrace.of(graph.tracedStep(tokens, step++, 1, 1e-4), graph.graph(), StepPasses.around(graph.stepLoss()));
        Optional<StepBytes> stepBytes = floor.flatMap(f -> trace.memory().map(m -> new StepBytes(m.peakBytes() - f, m.forwardPeakBytes() - f)));
        Timed t = new Timed(e, graph, tokens, settings.batch(), trace, stepBytes, ProcessMemory.residentBytes() - before);
        t.step = step;
        return t;
      } catch (RuntimeException failure) {
        graph.close();
        throw failure;
      }
    }

    private static long bytesPerElement(DataType type) {
      long bytes = DataTypeBytes.of(type);
      if (bytes == 0) {
        throw new IllegalArgumentException("a training graph variable of type " + type + ": its size is not known here");
      }
      return bytes;
    }


    void timeRepetition(StepKind kind, int steps) {
      graph.use(kind);
      Stopwatch watch = Stopwatch.createStarted();
      for (int i = 0; i < steps; i++) {
        graph.step(tokens, step++, 1, 1e-4, true);
      }
      millis.computeIfAbsent(kind, k -> new ArrayList<>()).add(watch.elapsed(TimeUnit.MICROSECONDS) / 1e3 / steps);
    }

    /** @param limits the limit measured before and after each repetition, in order: 2 per repetition */
    Row row(StepKind kind, List<Double> limits) {
      List<Double> perRepetition = millis.get(kind);
      checkArgument(limits.size() == 2 * perRepetition.size(), "%s repetitions timed, %s limits measured", perRepetition.size(), limits.size());
      List<Double> shares = new ArrayList<>();
      for (int r = 0; r < perRepetition.size(); r++) {
        shares.add(Row.gflops(trace.matmulMacs(), perRepetition.get(r)) / Math.max(limits.get(2 * r), limits.get(2 * r + 1)));
      }
      boolean plain = kind == StepKind.PLAIN;
      return new Row(entry, kind, ParameterCount.of(entry.config()).total(), Timing.of(perRepetition), Timing.of(shares),
          (long) batch * entry.config().context(),
          trace.matmulMacs(), variableBytes, plain ? stepBytes : Optional.empty(), rssGrowth,
          plain ? trace.micros() : ImmutableMap.of(), plain ? trace.macsByPart() : ImmutableMap.of(), plain ? trace.keptBytes() : ImmutableMap.of(),
          plain ? Optional.of(trace.overlap()) : Optional.empty());
    }

    @Override
    public void close() {
      graph.close();
    }
  }
}
