package io.switchhead.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.train.Damage;
import io.switchhead.testing.Seeded;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.SavedModelBundle;

/**
 * An export from a run whose newest checkpoint is damaged (a byte of its variables flipped, which
 * the manifest's SHA-256 finds): without {@code --checkpoint} it exports the older intact one and
 * says so; with {@code --checkpoint} naming the damaged step it refuses and writes nothing.
 */
class ExportFallbackTest {

  private static final ModelConfig TINY = new ModelConfig(256, 16, 1, 8, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.1),
      new DenseFeedForwardConfig(8), 0.1, 0.7);

  @TempDir static Path dir;
  @Seeded private static Random runRandom;
  @Seeded private Random random;
  private static TrainedRun trained;
  private static Path damaged;
  private static Path intact;

  /** Once: neither test changes the run (the second checks that). */
  @BeforeAll
  static void trainTwoCheckpointsAndDamageTheNewest() throws Exception {
    trained = TrainedRun.train(TINY, dir, runRandom, 2);
    intact = trained.checkpoints().get(0);
    damaged = trained.latest();
    Damage.flipByte(Damage.dataFile(damaged), runRandom);
  }

  @Test
  void theNewestIntactCheckpointIsExportedWithAWarningNamingTheDamagedOne() {
    Path out = dir.resolve("fallback-model");
    List<String> warnings = new ArrayList<>();
    SavedModelExport.Description d = SavedModelExport.export(trained.run(), OptionalLong.empty(), out, false, warnings::add);

    assertEquals(2, warnings.size(), warnings.toString());
    assertEquals("checkpoint " + damaged.getFileName() + " is damaged and was skipped: variables.data-00000-of-00001 does not match "
        + "the SHA-256 recorded when it was saved (its bytes changed)", warnings.get(0));
    assertEquals("using checkpoint " + intact.getFileName() + ", the newest intact one in " + trained.run().resolve("checkpoints"),
        warnings.get(1));
    assertEquals(1, d.step());
    assertEquals(d, SavedModelExport.readDescription(out));
    assertEquals(intact.toAbsolutePath().toString(), d.checkpoint());

    // the weights are the intact checkpoint's, not the damaged one's
    int[] tokens = random.ints(2L * TINY.context(), 0, TINY.vocabSize()).toArray();
    float[] want = TrainingLogits.of(TINY, intact, tokens, 2, TINY.context());
    try (SavedModelBundle bundle = SavedModelBundle.load(out.toString(), ServingSignatures.TAG)) {
      float[] got = ServedSignature.run(bundle, ServingSignatures.DEFAULT, ServingSignatures.LOGITS, tokens, 2, TINY.context());
      for (int i = 0; i < want.length; i++) {
        assertEquals(want[i], got[i], 1e-5f * Math.max(1, Math.abs(want[i])), "logit " + i);
      }
    }
  }

  @Test
  void askingForTheDamagedCheckpointIsRefusedAndWritesNothing() throws Exception {
    Map<String, String> runBefore = Damage.snapshot(trained.run());
    List<Path> siblingsBefore = list(dir);
    Path out = dir.resolve("refused-model");
    List<String> warnings = new ArrayList<>();

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SavedModelExport.export(trained.run(), OptionalLong.of(2), out, false, warnings::add));
    assertEquals("checkpoint " + damaged + " is damaged: variables.data-00000-of-00001 does not match the SHA-256 recorded when "
        + "it was saved (its bytes changed)", e.getMessage());
    assertEquals(List.of(), warnings, "no fallback: the step was asked for");
    assertTrue(Files.notExists(out), out + " was written");
    assertEquals(siblingsBefore, list(dir), "nothing beside the target either (no partial export)");
    assertEquals(runBefore, Damage.snapshot(trained.run()), "the run directory changed");
  }

  private static List<Path> list(Path directory) throws Exception {
    try (Stream<Path> entries = Files.list(directory)) {
      return entries.sorted().toList();
    }
  }
}
