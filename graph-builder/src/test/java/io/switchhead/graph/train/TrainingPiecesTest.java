package io.switchhead.graph.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingPiecesTest {

  @TempDir Path dir;

  @Test
  void theScheduleWarmsUpLinearlyThenFollowsACosineToTheFloor() {
    LearningRateSchedule s = new LearningRateSchedule(1.0, 10, 110, 0.0);
    assertEquals(0.1, s.at(0), 1e-12);
    assertEquals(1.0, s.at(9), 1e-12);
    assertEquals(1.0, s.at(10), 1e-12);
    assertEquals(0.5, s.at(60), 1e-12); // half way through the cosine
    assertEquals(0.0, s.at(110), 1e-12);
    assertEquals(0.0, s.at(500), 1e-12);
    for (long step = 10; step < 110; step++) {
      assertTrue(s.at(step + 1) <= s.at(step), "not decreasing at " + step);
    }
  }

  @Test
  void theMaskedCrcIsTfRecords() {
    // CRC32C("123456789") = 0xE3069283; masked = ((c >>> 15) | (c << 17)) + 0xa282ead8.
    int crc = 0xE3069283;
    int masked = ((crc >>> 15) | (crc << 17)) + 0xa282ead8;
    byte[] expected = {(byte) masked, (byte) (masked >>> 8), (byte) (masked >>> 16), (byte) (masked >>> 24)};
    assertArrayEquals(expected, TensorBoardWriter.maskedCrc("123456789".getBytes(StandardCharsets.US_ASCII)));
  }

  @Test
  void eventFilesRoundTrip() {
    try (TensorBoardWriter w = new TensorBoardWriter(dir)) {
      w.scalar("train/loss", 1, 2.5);
      w.scalar("validation/bpc", 1, 3.0);
      w.scalar("train/loss", 2, 2.25);
    }
    SortedMap<Long, Float> loss = TensorBoardReader.scalars(dir, "train/loss");
    assertEquals(Map.of(1L, 2.5f, 2L, 2.25f), loss);
  }

  @Test
  void checkpointsAreAtomicAndOnlyTheLastKeptRemain() throws Exception {
    Checkpoints checkpoints = new Checkpoints(dir, 2);
    for (long step : new long[] {10, 20, 30}) {
      checkpoints.save(step, prefix -> write(prefix, "weights of " + step), Map.of("step", step));
    }
    Checkpoints.Manifest manifest = checkpoints.manifest().orElseThrow();
    assertEquals("step-000000030", manifest.latest());
    assertEquals(List.of("step-000000020", "step-000000030"), manifest.kept());
    assertFalse(Files.exists(checkpoints.root().resolve("step-000000010")));
    assertEquals("weights of 30", Files.readString(checkpoints.latest().orElseThrow().resolve(Checkpoints.VARIABLES)));

    // A save that dies half way (the writer throws) leaves the manifest on the last complete one.
    try {
      checkpoints.save(40, prefix -> {
        write(prefix, "half");
        throw new IllegalStateException("killed");
      }, Map.of());
    } catch (IllegalStateException expected) {
      // as a killed process would
    }
    assertEquals("step-000000030", checkpoints.manifest().orElseThrow().latest());
    assertFalse(Files.exists(checkpoints.root().resolve("step-000000040")));
    checkpoints.save(50, prefix -> write(prefix, "weights of 50"), Map.of());
    try (var entries = Files.list(checkpoints.root())) {
      assertTrue(entries.noneMatch(p -> p.getFileName().toString().contains(".partial-")), "a partial directory was left");
    }
  }

  private static void write(String prefix, String content) {
    try {
      Files.writeString(Path.of(prefix), content);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
