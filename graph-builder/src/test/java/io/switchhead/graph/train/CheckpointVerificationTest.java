package io.switchhead.graph.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.data.Corpus;
import io.switchhead.testing.Seeded;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Loading a checkpoint only once it is verified, on real checkpoints with real damage: a data file
 * truncated or with flipped bytes, a deleted index, an edited state; and the fallback to the newest
 * intact one.
 */
class CheckpointVerificationTest {

  private static final String LATEST = "step-000000004";
  private static final String EARLIER = "step-000000002";
  @TempDir static Path shared;
  @TempDir Path dir;
  @Seeded private static Random corpusRandom;
  @Seeded private Random random;
  private static Corpus corpus;
  private static Path pristine;
  private final List<String> warnings = new ArrayList<>();

  /** A run of 4 steps with checkpoints at steps 2 and 4. */
  @BeforeAll
  static void train() throws Exception {
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < 3000; i++) {
      text.append((char) ('a' + corpusRandom.nextInt(4))).append(i % 7 == 0 ? " " : "");
    }
    Files.writeString(shared.resolve("corpus.txt"), text);
    corpus = Corpus.load(shared.resolve("corpus.txt"));
    pristine = shared.resolve("run");
    try (Trainer trainer = Trainer.start(TrainerTest.tiny(), TrainerTest.config(4, XlaMode.OFF), corpus, pristine)) {
      for (int i = 0; i < 4; i++) {
        trainer.step();
        if (i % 2 == 1) {
          trainer.checkpoint();
        }
      }
    }
  }

  private Path run() throws Exception {
    return Damage.copy(pristine, dir.resolve("run"));
  }

  private static Path checkpoint(Path run, String name) {
    return run.resolve("checkpoints").resolve(name);
  }

  @Test
  void anIntactRunLoadsItsLatestCheckpointWithoutAWord() throws Exception {
    VerifiedCheckpoint loaded = Checkpoints.latestVerified(run(), warnings::add);
    assertEquals(LATEST, loaded.name());
    assertEquals(4, loaded.state().nextStep());
    assertEquals(List.of(), warnings);
  }

  @Test
  void aTruncatedDataFileIsSkippedForTheNewestIntactCheckpoint() throws Exception {
    Path run = run();
    Damage.truncate(Damage.dataFile(checkpoint(run, LATEST)), 0.5);
    assertEquals(EARLIER, Checkpoints.latestVerified(run, warnings::add).name());
    assertEquals(2, warnings.size(), warnings.toString());
    assertTrue(warnings.get(0).matches("checkpoint " + LATEST + " is damaged and was skipped: variables.data-00000-of-00001 has "
        + "[0-9,]+ bytes, [0-9,]+ when it was saved \\(truncated\\)"), warnings.get(0));
    assertEquals("using checkpoint " + EARLIER + ", the newest intact one in " + run.resolve("checkpoints"), warnings.get(1));
  }

  @Test
  void flippedBytesInTheDataOrTheIndexAreFound() throws Exception {
    Path run = run();
    int at = Damage.flipByte(Damage.dataFile(checkpoint(run, LATEST)), random);
    Damage.flipByte(Damage.indexFile(checkpoint(run, EARLIER)), random);
    var error = assertThrows(IllegalArgumentException.class, () -> Checkpoints.latestVerified(run, warnings::add));
    assertEquals("no intact checkpoint in " + run.resolve("checkpoints") + ": "
        + LATEST + ": variables.data-00000-of-00001 does not match the SHA-256 recorded when it was saved (its bytes changed); "
        + EARLIER + ": variables.index does not match the SHA-256 recorded when it was saved (its bytes changed)",
        error.getMessage(), "data byte " + at);
    assertFalse(error.getMessage().contains("\n"));
  }

  @Test
  void aDeletedIndexOrStateIsNamed() throws Exception {
    Path run = run();
    Files.delete(Damage.indexFile(checkpoint(run, LATEST)));
    Files.delete(checkpoint(run, EARLIER).resolve(Checkpoints.STATE));
    var error = assertThrows(IllegalArgumentException.class, () -> Checkpoints.latestVerified(run, warnings::add));
    assertTrue(error.getMessage().endsWith(": " + LATEST + ": variables.index is missing; " + EARLIER + ": state.json is missing"),
        error.getMessage());
  }

  @Test
  void anEditedStateIsDamageToo() throws Exception {
    Path run = run();
    Damage.editState(checkpoint(run, LATEST), "\"nextStep\" : 4", "\"nextStep\" : 3");
    assertEquals(EARLIER, Checkpoints.latestVerified(run, warnings::add).name());
    assertTrue(warnings.get(0).endsWith("state.json does not match the SHA-256 recorded when it was saved (its bytes changed)"),
        warnings.toString());
  }

  /** Manifests of earlier versions have no digests: the variables are checked by their own CRCs. */
  @Test
  void checkpointsWithoutDigestsAreCheckedByTheirIndexAndSaidToBeSo() throws Exception {
    Path run = run();
    Damage.forgetDigests(run);
    assertEquals(LATEST, Checkpoints.latestVerified(run, warnings::add).name());
    assertEquals(List.of("checkpoint " + LATEST + " was saved without file digests (by an earlier version): its variables were "
        + "checked against the CRCs of its own index, its state.json could not be checked"), warnings);

    warnings.clear();
    int at = Damage.flipByte(Damage.dataFile(checkpoint(run, LATEST)), random);
    Damage.truncate(Damage.dataFile(checkpoint(run, EARLIER)), 0.9);
    var error = assertThrows(IllegalArgumentException.class, () -> Checkpoints.latestVerified(run, warnings::add));
    assertTrue(error.getMessage().contains(LATEST + ": variables.data-00000-of-00001: a tensor's bytes at offset "), "byte " + at + ": " + error.getMessage());
    assertTrue(error.getMessage().contains(EARLIER + ": variables.data-00000-of-00001 has "), error.getMessage());
  }

  @Test
  void aStateWithANegativeOrPastTheEndStepIsRefused() throws Exception {
    Path run = run();
    Damage.forgetDigests(run); // else the digest finds the edit first
    Damage.editState(checkpoint(run, LATEST), "\"nextStep\" : 4", "\"nextStep\" : 5");
    Damage.editState(checkpoint(run, EARLIER), "\"nextStep\" : 2", "\"nextStep\" : -2");
    var error = assertThrows(IllegalArgumentException.class, () -> Checkpoints.latestVerified(run, warnings::add));
    assertTrue(error.getMessage().endsWith(LATEST + ": state.json: nextStep (5) is past the end of the run (steps = 4); "
        + EARLIER + ": state.json: nextStep (-2) is negative"), error.getMessage());
  }

  @Test
  void noCheckpointAtAllIsSaidPlainly() {
    var error = assertThrows(IllegalArgumentException.class, () -> Checkpoints.latestVerified(dir, warnings::add));
    assertEquals("no complete checkpoint in " + dir.resolve("checkpoints") + " (none was saved there yet)", error.getMessage());
  }

  /**
   * A resume from the fallback trains on and replaces the damaged checkpoint with a good one; what
   * killed saves left (partial directories and manifest files, a directory the manifest does not
   * name) is gone once it starts.
   */
  @Test
  void aResumeFromTheFallbackReplacesTheDamagedCheckpointAndSweepsPartials() throws Exception {
    Path run = run();
    Path checkpoints = run.resolve("checkpoints");
    Damage.truncate(Damage.dataFile(checkpoint(run, LATEST)), 0.5);
    Path partial = Files.createDirectory(checkpoints.resolve("step-000000006.partial-123"));
    Files.writeString(partial.resolve("variables.index"), "half");
    Path manifestTmp = Files.writeString(checkpoints.resolve("manifest.json4567.tmp"), "{\"lat");
    Path unnamed = Files.createDirectory(checkpoints.resolve("step-000000008")); // renamed, then killed before the manifest
    try (Trainer trainer = Trainer.resume(run, corpus, warnings::add)) {
      assertFalse(Files.exists(partial) || Files.exists(manifestTmp) || Files.exists(unnamed), "killed saves' files are swept at resume");
      assertEquals(2, trainer.nextStep());
      trainer.step();
      trainer.step();
      trainer.checkpoint();
    }
    warnings.clear();
    assertEquals(LATEST, Checkpoints.latestVerified(run, warnings::add).name());
    assertEquals(List.of(), warnings);
  }
}
