package io.switchhead.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.train.Checkpoints;
import io.switchhead.graph.train.LearningRateSchedule;
import io.switchhead.graph.train.RunState;
import io.switchhead.graph.train.TensorBoardReader;
import io.switchhead.testing.Seeded;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code train --resume} and {@code generate} on runs that were finished, damaged or are given
 * other options, through the command line in this JVM: what is printed and the exit code.
 */
class TrainResumeCommandTest {

  @TempDir static Path shared;
  @TempDir Path dir;
  @Seeded private static Random random;
  private static Path config;
  private static Path corpus;
  /** A finished run of 4 steps with checkpoints at steps 2 and 4. */
  private static Path pristine;
  private Path run;


  private static CliRun cli(String... args) {
    return CliRun.of(args);
  }

  /** The options of the pristine run, with {@code changes} ("--option", "value" or a flag) replacing or adding. */
  private static String[] train(Path out, String... changes) {
    Map<String, String> options = new LinkedHashMap<>();
    String[] base = {"--config", config.toString(), "--data", corpus.toString(), "--out", out.toString(), "--steps", "4",
        "--batch", "2", "--eval-every", "2", "--eval-batches", "1", "--checkpoint-every", "2", "--xla", "off", "--warmup", "1",
        "--lr", "3e-3", "--no-progress"};
    for (String[] args : List.of(base, changes)) {
      for (int i = 0; i < args.length; i++) {
        boolean flag = i + 1 == args.length || args[i + 1].startsWith("--");
        options.put(args[i], flag ? null : args[++i]);
      }
    }
    List<String> line = new ArrayList<>(List.of("train"));
    options.forEach((option, value) -> {
      line.add(option);
      if (value != null) {
        line.add(value);
      }
    });
    return line.toArray(String[]::new);
  }

  /** Only what a resume names: the run directory and the options given. */
  private String[] resume(String... extra) {
    List<String> args = new ArrayList<>(List.of("train", "--out", run.toString(), "--resume", "--no-progress"));
    args.addAll(List.of(extra));
    return args.toArray(String[]::new);
  }

  @BeforeAll
  static void trainOnce() throws Exception {
    ModelConfig tiny = new ModelConfig(256, 16, 1, 8, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0),
        new DenseFeedForwardConfig(16), 0, 0.7);
    config = Files.writeString(shared.resolve("tiny.json"), ConfigJson.write(tiny));
    corpus = text(shared.resolve("corpus.txt"));
    pristine = shared.resolve("run");
    CliRun first = cli(train(pristine));
    assertEquals(0, first.code(), first.out() + first.err());
  }

  private static Path text(Path file) throws Exception {
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < 4000; i++) {
      text.append((char) ('a' + random.nextInt(6))).append(random.nextInt(5) == 0 ? " " : "");
    }
    return Files.writeString(file, text);
  }

  private Path copyRun() throws Exception {
    run = dir.resolve("run");
    try (Stream<Path> all = Files.walk(pristine)) {
      for (Path p : (Iterable<Path>) all::iterator) {
        Files.copy(p, run.resolve(pristine.relativize(p).toString()));
      }
    }
    return run;
  }

  private RunState latestState() {
    return Checkpoints.latestVerified(run, warning -> {}).state();
  }

  private static void assertOneLine(String message) {
    assertFalse(message.strip().contains("\n") || message.contains("\tat "), "one line, no stack trace: " + message);
  }

  /** Before: a finished run resumed ran nothing and reported "validation NaN bpc". */
  @Test
  void aFinishedRunResumedSaysItIsFinished() throws Exception {
    copyRun();
    CliRun r = cli(resume());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().matches("the run in " + run + " is finished: it reached its 4 steps \\(validation [0-9.]+ bpc\\); "
        + "nothing to do \\(give --steps above 4 to train it further\\)\n"), r.out());
    assertEquals("", r.err());
  }

  /**
   * Before: --lr and --steps were ignored on resume. Now the run goes on to the new steps at the
   * new rate, on the data it recorded (before: the default corpus, without --data).
   */
  @Test
  void aResumeExtendsTheStepsAtALowerLearningRateOnTheRecordedData() throws Exception {
    copyRun();
    CliRun r = cli(resume("--steps", "8", "--lr", "1e-3"));
    assertEquals(0, r.code(), r.out() + r.err());
    assertTrue(r.out().startsWith("data: " + corpus + " (as the run recorded; "), r.out());
    assertTrue(r.out().contains("changed on resume: --steps 4 -> 8, --lr 0.003 -> 0.001 (the learning rate follows the schedule "
        + "of a run started with these settings)\nresuming from step 4 to 8"), r.out());
    var rates = TensorBoardReader.scalars(run.resolve("tensorboard"), "train/learning_rate");
    LearningRateSchedule extended = new LearningRateSchedule(1e-3, 1, 8, 0);
    for (long step = 4; step < 8; step++) {
      assertEquals(extended.at(step), rates.get(step), 1e-9, "step " + step);
    }
    RunState state = latestState();
    assertEquals(8, state.nextStep());
    assertEquals(1e-3, state.train().learningRate());
    assertEquals(corpus.toString(), state.data());
  }

  /** Before: other data replaced the recorded data without a word. */
  @Test
  void otherDataIsRefusedUnlessTheChangeIsAllowedAndThenRecorded() throws Exception {
    copyRun();
    Path other = text(dir.resolve("other.txt"));
    CliRun refused = cli(resume("--steps", "6", "--data", other.toString()));
    assertEquals(2, refused.code());
    assertEquals("switchhead train: --data " + other + " is not the data the run in " + run + " trains on (" + corpus
        + ", recorded in checkpoint step-000000004): leave --data out to go on with it, or add --allow-data-change to train "
        + "on the new data from step 4\n", refused.err());

    CliRun allowed = cli(resume("--steps", "6", "--data", other.toString(), "--allow-data-change"));
    assertEquals(0, allowed.code(), allowed.err());
    assertTrue(allowed.out().startsWith("data: " + other + " (instead of " + corpus + " from step 4 on (--allow-data-change; "
        + "recorded in the checkpoints); "), allowed.out());
    assertEquals(List.of(new RunState.DataChange(4, corpus.toString(), other.toString())), latestState().dataChanges());
  }

  /** Before: every option but --out was ignored on resume; now a change is refused by name. */
  @Test
  void anOptionThatDefinesTheRunIsRefusedByNameButItsOwnValueIsAccepted() throws Exception {
    copyRun();
    CliRun batch = cli(resume("--steps", "6", "--batch", "4"));
    assertEquals(2, batch.code());
    assertTrue(batch.err().startsWith("switchhead train: --batch 4: a resumed run keeps its value (the run in " + run
        + " has 2); a resume may change only --steps (to extend the run), --lr, "), batch.err());
    assertOneLine(batch.err());

    CliRun preset = cli(resume("--steps", "6", "--preset", "dense-tiny"));
    assertEquals(2, preset.code());
    assertTrue(preset.err().startsWith("switchhead train: --preset dense-tiny: not the model the run in " + run + " trains"),
        preset.err());

    CliRun shorter = cli(resume("--steps", "3"));
    assertEquals(2, shorter.code());
    assertTrue(shorter.err().startsWith("switchhead train: --steps 3 is below the step the run in " + run + " reached (4)"),
        shorter.err());

    // The first command line again, with --resume and more steps: nothing in it changes the run.
    CliRun again = cli(train(run, "--resume", "--steps", "6"));
    assertEquals(0, again.code(), again.err());
    assertTrue(again.out().contains("resuming from step 4 to 6"), again.out());
  }

  /** Before: a raw TensorFlow stack trace, no fallback; generate loaded half a data file silently. */
  @Test
  void aDamagedLatestCheckpointIsSkippedWithAWarningAndNoneIntactIsOneLine() throws Exception {
    copyRun();
    Path checkpoints = run.resolve("checkpoints");
    Path latestData = checkpoints.resolve("step-000000004").resolve("variables.data-00000-of-00001");
    try (FileChannel data = FileChannel.open(latestData, StandardOpenOption.WRITE)) {
      data.truncate(data.size() / 2);
    }
    CliRun generated = cli("generate", "--out", run.toString(), "--tokens", "5");
    assertEquals(0, generated.code(), generated.err());
    assertTrue(generated.err().startsWith("switchhead generate: warning: checkpoint step-000000004 is damaged and was skipped: "
        + "variables.data-00000-of-00001 has "), generated.err());

    CliRun resumed = cli(resume("--steps", "6"));
    assertEquals(0, resumed.code(), resumed.err());
    assertTrue(resumed.err().contains("switchhead train: warning: using checkpoint step-000000002, the newest intact one in "
        + checkpoints), resumed.err());
    assertTrue(resumed.out().contains("resuming from step 2 to 6"), resumed.out());

    // The resume saved good checkpoints at 4 and 6 over the damage; now damage them all.
    for (String name : List.of("step-000000004", "step-000000006")) {
      Path index = checkpoints.resolve(name).resolve("variables.index");
      byte[] bytes = Files.readAllBytes(index);
      bytes[random.nextInt(bytes.length)] ^= (byte) (1 + random.nextInt(255));
      Files.write(index, bytes);
    }
    Files.delete(checkpoints.resolve("step-000000002").resolve("variables.index"));
    for (String command : List.of("train", "generate")) {
      CliRun none = command.equals("train") ? cli(resume("--steps", "8")) : cli("generate", "--out", run.toString());
      assertEquals(2, none.code(), none.err());
      String last = none.err().lines().reduce((a, b) -> b).orElseThrow();
      assertTrue(last.startsWith("switchhead " + command + ": no intact checkpoint in " + checkpoints + ": "), last);
      assertTrue(Arrays.stream(new String[] {"step-000000004", "step-000000006", "step-000000002: variables.index is missing"})
          .allMatch(last::contains), last);
    }
  }

  /** Before: "the last good checkpoint is in ..." although none was saved. */
  @Test
  void aDivergenceBeforeAnyCheckpointSaysSo() throws Exception {
    Path out = dir.resolve("diverging");
    CliRun r = cli(train(out, "--lr", "1e30", "--checkpoint-every", "100", "--steps", "20", "--eval-every", "100"));
    assertEquals(3, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("\nno checkpoint was saved before it: start again with a lower --lr (below 1.0E30)"), r.err());
  }
}
