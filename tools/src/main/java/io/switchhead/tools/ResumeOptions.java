package io.switchhead.tools;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.train.TrainConfig;
import io.switchhead.graph.train.VerifiedCheckpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.Supplier;
import picocli.CommandLine.ParseResult;

/**
 * The options of {@code train --resume}, read against the run's checkpoint. A resume continues one
 * run: the options that say how far and how fast it goes on ({@code --steps}, {@code --lr},
 * {@code --clip}), how its steps run ({@code --xla}) and how it reports and saves
 * ({@code --eval-every}, {@code --checkpoint-every}, {@code --keep}, {@code --no-progress}) may
 * change; the data may change with {@code --allow-data-change}. The options that define the run
 * (the model, {@code --batch}, {@code --seed}, {@code --warmup}, {@code --weight-decay},
 * {@code --eval-batches}) may be given with the run's values, as when a command line is run again
 * with {@code --resume} added, but a different value is refused naming the option. Only options the
 * user typed count: a default is never a change.
 */
final class ResumeOptions {

  /** The options a resume may change, with the setting each gives. */
  private record Changeable(String option, Function<TrainConfig, Object> setting) {}

  private static final List<Changeable> CHANGEABLE = List.of(
      new Changeable("--steps", TrainConfig::steps),
      new Changeable("--lr", TrainConfig::learningRate),
      new Changeable("--clip", TrainConfig::gradientClip),
      new Changeable("--xla", TrainConfig::xla),
      new Changeable("--eval-every", TrainConfig::evalEvery),
      new Changeable("--checkpoint-every", TrainConfig::checkpointEvery),
      new Changeable("--keep", TrainConfig::keepCheckpoints));

  private static final String MAY_CHANGE = "a resume may change only --steps (to extend the run), --lr, --clip, --xla, "
      + "--eval-every, --checkpoint-every, --keep, --no-progress, --devices, and --data with --allow-data-change";

  private final ParseResult given;
  private final VerifiedCheckpoint checkpoint;
  private final Path runDirectory;

  ResumeOptions(ParseResult given, VerifiedCheckpoint checkpoint, Path runDirectory) {
    this.given = given;
    this.checkpoint = checkpoint;
    this.runDirectory = runDirectory;
  }

  /**
   * The settings to continue with: the recorded ones, with the changes the command line gives.
   *
   * @param asGiven the settings the command line gives (its defaults where nothing was typed)
   * @param modelAsGiven the model the command line gives, read only if a model option was typed
   * @throws IllegalArgumentException naming an option that would change what a resume keeps, or a
   *     --steps below the step the run reached
   */
  TrainConfig trainConfig(TrainConfig asGiven, Supplier<ModelConfig> modelAsGiven) {
    TrainConfig r = checkpoint.state().train();
    requireModel(modelAsGiven);
    requireKept("--batch", asGiven.batch(), r.batch());
    requireKept("--seed", asGiven.seed(), r.seed());
    // The run clipped its warm-up below its steps; the same command line gives the same warm-up.
    requireKept("--warmup", Math.min(given.matchedOptionValue("--warmup", 0L), r.steps() - 1), r.warmupSteps());
    requireKept("--weight-decay", asGiven.weightDecay(), r.weightDecay());
    requireKept("--eval-batches", asGiven.evalBatches(), r.evalBatches());
    long steps = pick("--steps", asGiven.steps(), r.steps());
    long reached = checkpoint.state().nextStep();
    checkArgument(steps >= reached, "--steps %s is below the step the run in %s reached (%s): a resume can extend a run, "
        + "not shorten it", steps, runDirectory, reached);
    return new TrainConfig(r.batch(), steps, pick("--lr", asGiven.learningRate(), r.learningRate()), r.warmupSteps(),
        pick("--clip", asGiven.gradientClip(), r.gradientClip()), r.weightDecay(), r.seed(), pick("--xla", asGiven.xla(), r.xla()),
        pick("--eval-every", asGiven.evalEvery(), r.evalEvery()), r.evalBatches(),
        pick("--checkpoint-every", asGiven.checkpointEvery(), r.checkpointEvery()),
        pick("--keep", asGiven.keepCheckpoints(), r.keepCheckpoints()));
  }

  /** "--lr 0.003 -> 0.001" for each setting that {@code effective} changes. */
  static List<String> changes(TrainConfig recorded, TrainConfig effective) {
    List<String> changes = new ArrayList<>();
    for (Changeable c : CHANGEABLE) {
      Object before = c.setting().apply(recorded);
      Object after = c.setting().apply(effective);
      if (!before.equals(after)) {
        changes.add(c.option() + " " + before + " -> " + after);
      }
    }
    return changes;
  }

  /**
   * The data to continue on: the data the run recorded unless {@code --data} is given; other data
   * than the run's only with {@code --allow-data-change}.
   */
  Path data(Path givenData, boolean allowChange) {
    String recorded = checkpoint.state().data();
    if (givenData == null) {
      checkArgument(Files.exists(Path.of(recorded)), "the data the run in %s trains on, %s (recorded in checkpoint %s), "
          + "does not exist any more: give it with --data, or other data with --data and --allow-data-change", runDirectory,
          recorded, checkpoint.name());
      return Path.of(recorded);
    }
    checkArgument(allowChange || checkpoint.state().trainsOn(givenData.toString()),
        "--data %s is not the data the run in %s trains on (%s, recorded in checkpoint %s): leave --data out to go on "
            + "with it, or add --allow-data-change to train on the new data from step %s", givenData, runDirectory, recorded,
        checkpoint.name(), checkpoint.state().nextStep());
    return givenData;
  }

  private <T> T pick(String option, T asGiven, T recorded) {
    return given.hasMatchedOption(option) ? asGiven : recorded;
  }

  private void requireKept(String option, Object asGiven, Object recorded) {
    if (given.hasMatchedOption(option) && !Objects.equals(asGiven, recorded)) {
      throw new IllegalArgumentException(String.format("%s %s: a resumed run keeps its value (the run in %s has %s); %s", option,
          typed(option), runDirectory, recorded, MAY_CHANGE));
    }
  }

  /** Model options may repeat the run's model; any other model is refused. */
  private void requireModel(Supplier<ModelConfig> modelAsGiven) {
    List<String> typed = List.of("--preset", "--config", "--context").stream().filter(given::hasMatchedOption)
        .map(o -> o + " " + typed(o)).toList();
    if (!typed.isEmpty() && !modelAsGiven.get().equals(checkpoint.state().model())) {
      throw new IllegalArgumentException(String.format("%s: not the model the run in %s trains (see state.json in checkpoint %s); "
          + "a resumed run keeps its model", String.join(" ", typed), runDirectory, checkpoint.name()));
    }
  }

  private String typed(String option) {
    return String.join(" ", given.matchedOption(option).originalStringValues());
  }
}
