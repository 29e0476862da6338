package io.switchhead.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.generate.TokenDecoder;
import io.switchhead.graph.train.TrainConfig;
import io.switchhead.graph.train.Trainer;
import io.switchhead.graph.train.XlaMode;
import io.switchhead.savedmodel.SavedModelExport;
import io.switchhead.savedmodel.ServedModel;
import io.switchhead.savedmodel.XlaMarks;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code switchhead export} in-process: the checkpoint it picks, and bad input as one line with exit code 2. */
class ExportCommandTest {

  @TempDir static Path dir;
  private static Path run;

  /** What one command line run printed, and its exit code. */

  /** A run with checkpoints of steps 1 and 2. */
  @BeforeAll
  static void train() throws Exception {
    ModelConfig model = new ModelConfig(256, 16, 1, 8, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.0),
        new DenseFeedForwardConfig(8), 0.0, 0.7);
    Corpus corpus = Corpus.load(Files.writeString(dir.resolve("corpus.txt"), "the quick brown fox jumps over the lazy dog. ".repeat(60)));
    run = dir.resolve("run");
    try (Trainer trainer = Trainer.start(model, new TrainConfig(2, 3, 1e-2, 1, 1.0, 0.0, 5, XlaMode.OFF, 1000, 1, 1000, 2), corpus, run)) {
      trainer.step();
      trainer.checkpoint();
      trainer.step();
      trainer.checkpoint();
    }
  }

  private static CliRun export(String... args) {
    String[] all = new String[args.length + 1];
    all[0] = "export";
    System.arraycopy(args, 0, all, 1, args.length);
    return CliRun.of(all).stripped();
  }

  /** Bad input: exit code 2, one line on stderr, no stack trace, naming what was wrong. */
  private static void assertRefused(CliRun ran, String message) {
    assertEquals(2, ran.code(), ran.err());
    assertEquals("switchhead export: " + message, ran.err());
    assertFalse(ran.err().contains("\n"), "one line: " + ran.err());
  }

  @Test
  void exportsTheLatestCheckpointOrTheOneOfAStep() {
    Path latest = dir.resolve("latest");
    CliRun ran = export(run.toString(), latest.toString());
    assertEquals(0, ran.code(), ran.err());
    assertTrue(ran.out().startsWith("exported step 2 of "), ran.out());
    assertTrue(Files.exists(latest.resolve("saved_model.pb")));
    assertEquals(2, SavedModelExport.readDescription(latest).step());

    Path first = dir.resolve("first");
    assertEquals(0, export(run.toString(), first.toString(), "--checkpoint", "1").code());
    assertEquals(1, SavedModelExport.readDescription(first).step());
  }

  @Test
  void anExistingOutDirIsRefusedUnlessOverwrite() throws Exception {
    Path taken = Files.createDirectories(dir.resolve("taken"));
    assertRefused(export(run.toString(), taken.toString()), taken + " exists; pass --overwrite to replace it");
    CliRun ran = export(run.toString(), taken.toString(), "--overwrite", "--checkpoint", "1");
    assertEquals(0, ran.code(), ran.err());
    assertEquals(1, SavedModelExport.readDescription(taken).step());
  }

  @Test
  void anUnknownStepOrARunWithoutCheckpointsIsOneLineNamingIt() throws Exception {
    Path out = dir.resolve("never");
    assertRefused(export(run.toString(), out.toString(), "--checkpoint", "9"),
        "no checkpoint of step 9 in " + run.resolve("checkpoints") + "; it keeps steps [1, 2]");
    Path empty = Files.createDirectories(dir.resolve("empty-run"));
    assertRefused(export(empty.toString(), out.toString()), "no complete checkpoint in " + empty.resolve("checkpoints") + " (none was saved there yet)");
    assertTrue(Files.notExists(out));
  }

  /** {@code --xla}: the full-window signatures marked, said on stdout and in export.json; the export loads and serves next-token log-probabilities. */
  @Test
  void xlaMarksTheFullWindowSignatures() throws Exception {
    Path marked = dir.resolve("marked");
    CliRun ran = export(run.toString(), marked.toString(), "--xla");
    assertEquals(0, ran.code(), ran.err());
    assertTrue(ran.out().contains("; marked for XLA: " + String.join(", ", XlaMarks.FULL_WINDOW) + ")"), ran.out());
    assertEquals(XlaMarks.FULL_WINDOW, SavedModelExport.readDescription(marked).xlaMarked());
    try (ServedModel model = ServedModel.load(marked);
        TokenDecoder decoder = model.fullWindowDecoder()) {
      assertEquals(256, decoder.append(new int[] {1, 2, 3}).length);
    }
  }
}
