package io.switchhead.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.train.Checkpoints;
import io.switchhead.graph.train.RunState;
import io.switchhead.graph.train.TrainConfig;
import io.switchhead.graph.train.Trainer;
import io.switchhead.graph.train.XlaMode;
import io.switchhead.savedmodel.SavedModelExport;
import io.switchhead.savedmodel.weights.SafeTensorsFile;
import io.switchhead.savedmodel.weights.WeightsExport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code switchhead weights export|import} in-process: a run to a file and back to a run that the
 * other commands take (train --resume, generate, export), and bad input as one line with exit code 2.
 */
class WeightsCommandTest {

  private static final ModelConfig MODEL = new ModelConfig(256, 16, 1, 8, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.0),
      new DenseFeedForwardConfig(8), 0.0, 0.7);

  @TempDir static Path dir;
  private static Path corpus;
  private static Path run;

  /** A run with checkpoints of steps 1 and 2. */
  @BeforeAll
  static void train() throws Exception {
    corpus = Files.writeString(dir.resolve("corpus.txt"), "the quick brown fox jumps over the lazy dog. ".repeat(60));
    run = dir.resolve("run");
    try (Trainer trainer = Trainer.start(MODEL, new TrainConfig(2, 3, 1e-2, 1, 1.0, 0.0, 5, XlaMode.OFF, 1000, 1, 1000, 2),
        Corpus.load(corpus), run)) {
      trainer.step();
      trainer.checkpoint();
      trainer.step();
      trainer.checkpoint();
    }
  }

  private static CliRun cli(String... args) {
    return CliRun.of(args).stripped();
  }

  /** Bad input: exit code 2 and one line on stderr, naming what was wrong. */
  private static void assertRefused(CliRun ran, String command, String message) {
    assertEquals(2, ran.code(), ran.err());
    assertEquals("switchhead weights " + command + ": " + message, ran.err());
    assertFalse(ran.err().contains("\n"), "one line: " + ran.err());
  }

  @Test
  void anImportedRunTrainsOnGeneratesAndExports() throws Exception {
    Path file = dir.resolve("w.safetensors");
    CliRun exported = cli("weights", "export", run.toString(), file.toString());
    assertEquals(0, exported.code(), exported.err());
    assertTrue(exported.out().startsWith("exported step 2 of " + run.toAbsolutePath().resolve("checkpoints/step-000000002")),
        exported.out());

    Path imported = dir.resolve("imported");
    CliRun ran = cli("weights", "import", file.toString(), imported.toString(), "--data", corpus.toString(), "--steps", "4", "--batch",
        "2", "--warmup", "1", "--eval-every", "2", "--eval-batches", "1", "--checkpoint-every", "2", "--xla", "off");
    assertEquals(0, ran.code(), ran.err());
    assertEquals("imported 19 tensors of " + file + " into " + imported + ": a run at step 0 on " + corpus.toAbsolutePath()
        + " with fresh Adam state; train on with: switchhead train --out " + imported + " --resume", ran.out());
    RunState state = Checkpoints.latestVerified(imported, w -> {}).state();
    assertEquals(MODEL, state.model(), "the model the export recorded");
    assertEquals(new TrainConfig(2, 4, 2e-3, 1, 0.25, 0, 1234, XlaMode.OFF, 2, 1, 2, 3), state.train(), "as train records its options");

    CliRun trained = cli("train", "--out", imported.toString(), "--resume", "--no-progress");
    assertEquals(0, trained.code(), trained.err());
    assertTrue(trained.out().contains("resuming from step 0 to 4"), trained.out());
    assertEquals(4, Checkpoints.latestVerified(imported, w -> {}).state().nextStep());

    CliRun generated = cli("generate", "--out", imported.toString(), "--prompt", "the ", "--tokens", "5");
    assertEquals(0, generated.code(), generated.err());
    assertTrue(generated.out().startsWith("the "), generated.out());

    Path model = dir.resolve("imported-model");
    assertEquals(0, cli("export", imported.toString(), model.toString()).code());
    assertEquals(4, SavedModelExport.readDescription(model).step());
  }

  @Test
  void aCheckpointOfAStepAndOverwrite() throws Exception {
    Path file = Files.writeString(dir.resolve("taken.safetensors"), "old");
    assertRefused(cli("weights", "export", run.toString(), file.toString()), "export", file + " exists; pass --overwrite to replace it");
    CliRun ran = cli("weights", "export", run.toString(), file.toString(), "--checkpoint", "1", "--overwrite");
    assertEquals(0, ran.code(), ran.err());
    assertEquals("1", SafeTensorsFile.read(file).metadata().get(WeightsExport.STEP));
  }

  @Test
  void aMalformedFileIsOneLineAndLeavesNoRunDirectory() throws Exception {
    Path file = Files.writeString(dir.resolve("bad.safetensors"), "{\"not\": \"safetensors\"}");
    Path target = dir.resolve("never");
    CliRun ran = cli("weights", "import", file.toString(), target.toString(), "--data", corpus.toString());
    assertEquals(2, ran.code(), ran.err());
    assertTrue(ran.err().startsWith("switchhead weights import: " + file + ": the header length, "), ran.err());
    try (Stream<Path> left = Files.list(dir)) {
      assertTrue(left.noneMatch(p -> p.getFileName().toString().startsWith("never")), "no run directory, no partial one");
    }
  }

  @Test
  void theModelIsGivenOnceAndAnExistingDirectoryIsRefused() throws Exception {
    Path file = dir.resolve("m.safetensors");
    assertEquals(0, cli("weights", "export", run.toString(), file.toString()).code());
    Path config = Files.writeString(dir.resolve("model.json"), ConfigJson.write(MODEL));
    assertRefused(cli("weights", "import", file.toString(), dir.resolve("x").toString(), "--preset", "switchhead-tiny", "--config",
        config.toString()), "import", "give the model by --preset or by --config, not both");
    assertRefused(cli("weights", "import", file.toString(), run.toString()), "import", run + " exists; an import makes a new run directory");
    CliRun wrong = cli("weights", "import", file.toString(), dir.resolve("tiny").toString(), "--preset", "switchhead-tiny");
    assertEquals(2, wrong.code(), wrong.err());
    assertTrue(wrong.err().startsWith("switchhead weights import: " + file + " does not hold the model's parameters"), wrong.err());
  }

  @Test
  void withoutASubcommandItShowsBoth() {
    CliRun ran = cli("weights");
    assertEquals(0, ran.code(), ran.err());
    assertTrue(ran.out().contains("export") && ran.out().contains("import"), ran.out());
  }
}
