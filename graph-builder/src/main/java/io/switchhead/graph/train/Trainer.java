package io.switchhead.graph.train;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkState;

import com.google.common.base.Stopwatch;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.data.BatchSampler;
import io.switchhead.graph.data.Batches;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.data.StreamSampler;
import io.switchhead.graph.layers.ExpertCounts;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Trains a language model step by step: a program can call {@link #step()}, {@link #evaluate()} and
 * {@link #checkpoint()} itself, or {@link #run} until the configured steps with a listener.
 *
 * <p>Everything a step depends on is a function of (seed, step): the data windows, the dropout
 * masks, the learning rate. A checkpoint therefore holds the variables (parameters and Adam slots)
 * and the step, and a resumed run repeats the uninterrupted one exactly.
 */
public final class Trainer implements AutoCloseable {

  /** One step's measurements. */
  public record StepReport(long step, double loss, double lmLoss, double gradientNorm, double learningRate,
      double[] usageEntropy, long tokens, double seconds, double[] droppedShare, double[] meanK) {

    /** A step of a model without capacities or dynamic-k selections. */
    public StepReport(long step, double loss, double lmLoss, double gradientNorm, double learningRate, double[] usageEntropy, long tokens,
        double seconds) {
      this(step, loss, lmLoss, gradientNorm, learningRate, usageEntropy, tokens, seconds, new double[0], new double[0]);
    }
  }

  /** Receives progress; every method has a default that does nothing. */
  public interface Listener {
    default void onStep(StepReport report) {}

    default void onEvaluation(long step, double validationBpc) {}

    /**
     * After each evaluation: how often each expert was chosen over the validation batches it
     * counted, one counter per selection in {@link #usageNames} order.
     */
    default void onExpertUsage(long step, List<ExpertCounts> usage) {}

    default void onCheckpoint(long step, Path directory) {}
  }

  /** What a finished run reports. */
  public record Summary(long steps, long tokens, double seconds, double tokensPerSecond, double finalLoss,
      double validationBpc, boolean xla) {
    public double validationPerplexity() {
      return Math.pow(2, validationBpc);
    }
  }

  private final ModelConfig model;
  private final TrainConfig train;
  private final Corpus corpus;
  private final TrainingGraph graph;
  private final Batches trainBatches;
  private final Batches validationBatches;
  private final Checkpoints checkpoints;
  private final LearningRateSchedule schedule;
  private final RunLock lock;
  private final List<RunState.DataChange> dataChanges;
  private long nextStep;
  private double lastLoss = Double.NaN;
  private double lastBpc;
  private List<ExpertCounts> lastExpertCounts = List.of();
  private String xlaChoice = "";

  private Trainer(ModelConfig model, TrainConfig train, Replicas replicas, Corpus corpus, Path out, long nextStep,
      List<RunState.DataChange> dataChanges, double lastBpc, RunLock lock) {
    checkArgument(corpus.vocabulary() <= model.vocabSize(),
        "%s has token ids up to %s but the model's vocabSize is %s", corpus.source(), corpus.vocabulary() - 1, model.vocabSize());
    this.model = model;
    this.train = train;
    this.corpus = corpus;
    this.nextStep = nextStep;
    this.lock = lock;
    this.dataChanges = List.copyOf(dataChanges);
    this.lastBpc = lastBpc;
    int window = model.context() + 1;
    boolean xl = model.hasMemory();
    // XL models read consecutive chunks (each chunk's memory is the one before); others random windows.
    this.trainBatches = xl ? new StreamSampler(corpus.train(), train.batch(), model.context(), train.seed())
        : new BatchSampler(corpus.train(), train.batch(), window, train.seed());
    // Fixed validation windows (seed 0, steps 0..n-1): every measurement sees the same tokens.
    this.validationBatches = xl ? new StreamSampler(corpus.validation(), train.batch(), model.context(), 0)
        : new BatchSampler(corpus.validation(), train.batch(), window, 0);
    this.checkpoints = new Checkpoints(out, train.keepCheckpoints());
    checkpoints.sweepLeftovers(); // what a killed save left behind, before this run saves anything
    this.schedule = train.schedule();
    this.graph = new TrainingGraph(model, train, replicas);
  }

  /**
   * A new run writing to {@code out}, which it locks ({@link RunLock}) until closed. A directory
   * that already holds a run's checkpoints is refused: starting over would overwrite them.
   */
  public static Trainer start(ModelConfig model, TrainConfig train, Corpus corpus, Path out) {
    return start(model, train, Replicas.one(), corpus, out);
  }

  /** The same, each step replicated over {@code replicas} (data parallelism, see {@link ReplicatedPass}). */
  public static Trainer start(ModelConfig model, TrainConfig train, Replicas replicas, Corpus corpus, Path out) {
    return RunLock.holding(out, lock -> {
      Checkpoints existing = new Checkpoints(out, 1);
      existing.manifest().ifPresent(m -> {
        throw new IllegalArgumentException(String.format("%s already holds a run (latest checkpoint %s); a new run would "
            + "overwrite its checkpoints: resume it (train --resume), or train into another directory", out, m.latest()));
      });
      Trainer trainer = new Trainer(model, train, replicas, corpus, out, 0, List.of(), Double.NaN, lock);
      trainer.settleXla();
      return trainer;
    });
  }

  /**
   * Continues the run in {@code out} from its newest intact checkpoint, with the configs and data
   * recorded there. Locks {@code out} ({@link RunLock}) until closed.
   *
   * @param warnings receives a line per damaged checkpoint skipped (see {@link Checkpoints#latestVerified})
   */
  public static Trainer resume(Path out, Corpus corpus, Consumer<String> warnings) {
    VerifiedCheckpoint from = Checkpoints.latestVerified(out, warnings);
    return resume(out, from, corpus, from.state().train(), false);
  }

  /**
   * Continues the run in {@code out} from checkpoint {@code from} with its model and the training
   * settings {@code train}: the recorded ones, or those with the changes a resume may make (see
   * {@link TrainConfig#checkContinues}); the learning rate follows {@code train}'s schedule from the
   * checkpoint's step on. The checkpoint's variables are compared with the model's before anything
   * is restored or written.
   *
   * @param allowDataChange whether {@code corpus} may be other data than the run recorded; the
   *     change is then recorded in the next checkpoints' state
   * @throws IllegalArgumentException if {@code train} changes what a resume keeps, the data differs
   *     without {@code allowDataChange}, or the checkpoint does not hold the model's variables
   */
  public static Trainer resume(Path out, VerifiedCheckpoint from, Corpus corpus, TrainConfig train, boolean allowDataChange) {
    return resume(out, from, corpus, train, Replicas.one(), allowDataChange);
  }

  /**
   * The same, each step replicated over {@code replicas}: any number of devices resumes any run, as
   * the variables (the XL memories included) keep the one-device layout.
   */
  public static Trainer resume(Path out, VerifiedCheckpoint from, Corpus corpus, TrainConfig train, Replicas replicas,
      boolean allowDataChange) {
    return RunLock.holding(out, lock -> resumeLocked(out, from, corpus, train, replicas, allowDataChange, lock));
  }

  private static Trainer resumeLocked(Path out, VerifiedCheckpoint from, Corpus corpus, TrainConfig train, Replicas replicas,
      boolean allowDataChange, RunLock lock) {
    RunState state = from.state();
    train.checkContinues(state.train(), state.nextStep());
    List<RunState.DataChange> changes = new ArrayList<>(state.dataChanges());
    if (!state.trainsOn(corpus.source())) {
      checkArgument(allowDataChange, "%s is not the data the run in %s trains on (%s, recorded in checkpoint %s); "
          + "allow the change to train on it", corpus.source(), out, state.data(), from.name());
      changes.add(new RunState.DataChange(state.nextStep(), state.data(), corpus.source()));
    }
    double bpc = state.validationBpc() == null ? Double.NaN : state.validationBpc();
    Trainer trainer = new Trainer(state.model(), train, replicas, corpus, out, state.nextStep(), changes, bpc, lock);
    try {
      from.restoreAll(trainer.graph.session(), trainer.graph.variables());
      trainer.settleXla();
    } catch (RuntimeException e) {
      trainer.close();
      throw e;
    }
    return trainer;
  }

  /** The XLA mode's step; AUTO times both on the current variables. */
  private void settleXla() {
    if (train.xla() == XlaMode.AUTO) {
      chooseXla();
    } else {
      xlaChoice = train.xla() == XlaMode.ON ? "XLA on" : "XLA off";
    }
  }

  /** Times forward+backward both ways for a few steps (nothing is applied) and keeps the faster. */
  private void chooseXla() {
    double plain = timeSteps(StepKind.PLAIN);
    double xla = timeSteps(StepKind.XLA);
    graph.use(xla < plain ? StepKind.XLA : StepKind.PLAIN);
    xlaChoice = String.format("XLA %s (auto: %.1f ms/step compiled, %.1f ms/step plain)", xla < plain ? "on" : "off", xla, plain);
  }

  private double timeSteps(StepKind kind) {
    graph.use(kind);
    int[] tokens = trainBatches.batch(nextStep);
    graph.step(tokens, nextStep, train.seed(), 0, false); // compile / warm up
    int repeats = 3;
    Stopwatch watch = Stopwatch.createStarted();
    for (int i = 0; i < repeats; i++) {
      graph.step(tokens, nextStep, train.seed(), 0, false);
    }
    return watch.elapsed(TimeUnit.MICROSECONDS) / 1000.0 / repeats;
  }

  /** "XLA on", "XLA off", or the AUTO measurement. */
  public String xlaChoice() {
    return xlaChoice;
  }

  public long nextStep() {
    return nextStep;
  }

  public boolean finished() {
    return nextStep >= train.steps();
  }

  public ModelConfig model() {
    return model;
  }

  public TrainConfig trainConfig() {
    return train;
  }

  public Checkpoints checkpoints() {
    return checkpoints;
  }

  public List<String> usageNames() {
    return graph.usageNames();
  }

  /** The name of each expert selection with a capacity, in the order of {@link StepReport#droppedShare}. */
  public List<String> droppedNames() {
    return graph.droppedNames();
  }

  /** The dynamic-k selections whose mean K {@link StepReport#meanK} holds, in its order; empty without one. */
  public List<MeanKSite> meanKSites() {
    return graph.meanKSites();
  }

  /** Runs the next step and applies its update. */
  public StepReport step() {
    checkState(!finished(), "training already reached its %s steps", train.steps());
    long step = nextStep;
    double lr = schedule.at(step);
    Stopwatch watch = Stopwatch.createStarted();
    StepMetrics m = graph.step(trainBatches.batch(step), step, train.seed(), lr, true);
    double seconds = watch.elapsed(TimeUnit.NANOSECONDS) / 1e9;
    nextStep++;
    lastLoss = m.lmLoss();
    return new StepReport(step, m.loss(), m.lmLoss(), m.gradientNorm(), lr, m.usageEntropy(),
        (long) train.batch() * model.context(), seconds, m.droppedShare(), m.meanK());
  }

  /**
   * Validation bits per token (bits per character for byte-level data). With XL memory the memory is
   * reset and filled by one uncounted chunk first, so every counted chunk sees a real previous chunk.
   * The counted chunks' expert choices are kept for {@link #lastExpertCounts}.
   */
  public double evaluate() {
    int first = 0;
    if (model.hasMemory()) {
      graph.resetEvaluationMemory();
      graph.evaluationLossSum(validationBatches.batch(0));
      first = 1;
    }
    double nats = 0;
    List<ExpertCounts> usage = graph.emptyExpertCounts();
    for (int i = first; i < first + train.evalBatches(); i++) {
      nats += graph.evaluationLossSum(validationBatches.batch(i), usage);
    }
    lastExpertCounts = usage;
    double tokens = (double) train.evalBatches() * train.batch() * model.context();
    lastBpc = nats / tokens / Math.log(2);
    return lastBpc;
  }

  /**
   * The expert choices the last {@link #evaluate} counted over its validation batches, one counter
   * per selection in {@link #usageNames} order; empty before the first evaluation.
   */
  public List<ExpertCounts> lastExpertCounts() {
    return lastExpertCounts;
  }

  /** Writes a checkpoint of the current state. */
  public Path checkpoint() {
    RunState state = new RunState(nextStep, model, train, corpus.source(), dataChanges, Double.isNaN(lastBpc) ? null : lastBpc);
    return checkpoints.save(nextStep, graph::save, state);
  }

  /** The data changes of this run so far, the last one made by this resume if it changed the data. */
  public List<RunState.DataChange> dataChanges() {
    return dataChanges;
  }

  /** Runs to the configured number of steps, evaluating and checkpointing on schedule and at the end. */
  public Summary run(Listener listener) {
    long startStep = nextStep;
    Stopwatch watch = Stopwatch.createStarted();
    while (!finished()) {
      StepReport report = step();
      listener.onStep(report);
      boolean last = finished();
      if (nextStep % train.evalEvery() == 0 || last) {
        listener.onEvaluation(report.step(), evaluate());
        listener.onExpertUsage(report.step(), lastExpertCounts);
      }
      if (nextStep % train.checkpointEvery() == 0 || last) {
        listener.onCheckpoint(report.step(), checkpoint());
      }
    }
    double seconds = watch.elapsed(TimeUnit.NANOSECONDS) / 1e9;
    long tokens = (nextStep - startStep) * train.batch() * model.context();
    return new Summary(nextStep, tokens, seconds, tokens / Math.max(seconds, 1e-9), lastLoss, lastBpc, graph.kind().compiled());
  }

  /** The validation bpc last measured, if any. */
  public Optional<Double> lastValidationBpc() {
    return Double.isNaN(lastBpc) ? Optional.empty() : Optional.of(lastBpc);
  }

  @Override
  public void close() {
    try (lock) {
      graph.close();
    }
  }
}
