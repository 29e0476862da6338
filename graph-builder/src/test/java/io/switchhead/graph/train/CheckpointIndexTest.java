package io.switchhead.graph.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.testing.Seeded;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The index reader against checkpoints TensorFlow writes for the models of this project. */
class CheckpointIndexTest {

  @TempDir static Path dir;
  @Seeded private Random random;
  private static String prefix;
  private static Map<String, VariableType> variables;

  @BeforeAll
  static void save() {
    prefix = dir.resolve("variables").toString();
    // XL: parameters, Adam slots and memories, all of which a checkpoint holds.
    try (TrainingGraph graph = new TrainingGraph(TrainerTest.tinyXl(), new StepSettings(2, 1, AdamW.paper(0), 1.0),
        EnumSet.of(StepKind.PLAIN))) {
      graph.save(prefix);
      variables = graph.variables();
    }
  }

  @Test
  void listsEveryVariableOfTheGraphWithItsTypeAndShape() {
    CheckpointIndex index = CheckpointIndex.read(prefix);
    assertEquals(variables.keySet(), index.tensors().keySet());
    variables.forEach((name, type) -> assertEquals(type, index.tensors().get(name).type(), name));
    assertTrue(variables.keySet().stream().anyMatch(n -> n.endsWith("/adam_m")), variables.keySet().toString());
    assertTrue(variables.keySet().stream().anyMatch(n -> n.startsWith("memory/")), variables.keySet().toString());
  }

  @Test
  void theTensorsTileTheDataFile() throws Exception {
    CheckpointIndex index = CheckpointIndex.read(prefix);
    assertEquals(1, index.shards());
    long end = index.tensors().values().stream().mapToLong(t -> t.offset() + t.size()).max().orElseThrow();
    long bytes = index.tensors().values().stream().mapToLong(CheckpointIndex.Tensor::size).sum();
    assertEquals(Files.size(index.dataFile(prefix, 0)), end);
    assertEquals(end, bytes, "no gaps, no overlaps");
  }

  @Test
  void theDataFileIsCheckedAgainstTheIndexItsLengthAndItsCrcs() throws Exception {
    CheckpointIndex index = CheckpointIndex.read(prefix);
    assertEquals(Optional.empty(), index.dataProblem(prefix, true));
    Path data = index.dataFile(prefix, 0);
    byte[] good = Files.readAllBytes(data);

    String copy = dir.resolve("copy").toString();
    Files.copy(Path.of(prefix + ".index"), Path.of(copy + ".index"));
    Path copied = index.dataFile(copy, 0);
    byte[] flipped = good.clone();
    int at = random.nextInt(good.length);
    flipped[at] ^= (byte) (1 + random.nextInt(255));
    Files.write(copied, flipped);
    assertEquals(Optional.empty(), index.dataProblem(copy, false), "the length is right");
    String problem = index.dataProblem(copy, true).orElseThrow(() -> new AssertionError("byte " + at + " flipped unnoticed"));
    assertTrue(problem.contains("fail the CRC-32C of its index"), problem);

    Files.write(copied, Arrays.copyOf(good, good.length / 2));
    problem = index.dataProblem(copy, false).orElseThrow();
    assertTrue(problem.startsWith(copied.getFileName() + " has ") && problem.endsWith("(truncated)"), problem);
    Files.delete(copied);
    assertEquals(Optional.of(copied.getFileName() + " is missing"), index.dataProblem(copy, false));
  }

  @Test
  void aFlippedByteOrATruncationIsNamedNotMisread() throws Exception {
    byte[] good = Files.readAllBytes(Path.of(prefix + ".index"));
    byte[] flipped = good.clone();
    int at = random.nextInt(good.length - 48);
    flipped[at] ^= (byte) (1 + random.nextInt(255));
    String damaged = write("flipped", flipped);
    var error = assertThrows(IllegalArgumentException.class, () -> CheckpointIndex.read(damaged));
    assertTrue(error.getMessage().startsWith(damaged + ".index is not a readable checkpoint index"), "byte " + at + ": " + error.getMessage());

    String truncated = write("truncated", Arrays.copyOf(good, random.nextInt(good.length)));
    error = assertThrows(IllegalArgumentException.class, () -> CheckpointIndex.read(truncated));
    assertTrue(error.getMessage().startsWith(truncated + ".index is not a readable checkpoint index"), error.getMessage());
  }

  private static String write(String name, byte[] index) throws Exception {
    Path file = dir.resolve(name + ".index");
    Files.write(file, index);
    return dir.resolve(name).toString();
  }
}
