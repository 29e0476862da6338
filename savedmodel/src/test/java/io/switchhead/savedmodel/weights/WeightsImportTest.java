package io.switchhead.savedmodel.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.collect.ImmutableMap;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.data.Corpus;
import io.switchhead.testing.Seeded;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.ndarray.Shape;

/**
 * Files an import refuses, each with a message naming the file and the tensor, and none leaving a
 * run directory (or anything else) behind.
 */
class WeightsImportTest {

  private static final ModelConfig MODEL = new ModelConfig(256, 16, 1, 8, new SwitchHeadConfig(2, 3, 2, 12, Positional.ROPE, 0),
      new DenseFeedForwardConfig(8), 0, 0.7);

  @TempDir Path dir;
  @Seeded private Random random;
  private Corpus corpus;
  private Path runs;

  @BeforeEach
  void corpus() throws Exception {
    corpus = TrainedRuns.corpus(dir, random);
    runs = Files.createDirectories(dir.resolve("runs"));
  }

  /** Random F32 tensors of the model's names and shapes, changed by {@code edit}, as a file. */
  private Path file(Consumer<Map<String, SafeTensorsFile.Tensor>> edit) {
    Map<String, SafeTensorsFile.Tensor> tensors = new LinkedHashMap<>();
    for (WeightName w : WeightNames.of(MODEL)) {
      tensors.put(w.name(), f32(w.fileShape()));
    }
    edit.accept(tensors);
    Path file = dir.resolve("weights-" + random.nextInt(1 << 30) + ".safetensors");
    new SafeTensorsFile(ImmutableMap.of(), ImmutableMap.copyOf(tensors)).write(file, false);
    return file;
  }

  private SafeTensorsFile.Tensor f32(Shape shape) {
    byte[] data = new byte[(int) shape.size() * 4];
    random.nextBytes(data);
    return new SafeTensorsFile.Tensor(Dtype.F32, shape, data);
  }

  /** The import is refused with {@code message}, and the directory of runs is as empty as before. */
  private void assertRefused(Path file, Optional<ModelConfig> model, String message) throws Exception {
    Path run = runs.resolve("new-run");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> WeightsImport.importRun(file, model, TrainedRuns.TRAIN, corpus, run));
    assertEquals(message, e.getMessage());
    try (Stream<Path> left = Files.list(runs)) {
      assertEquals(List.of(), left.toList(), "nothing written");
    }
  }

  @Test
  void aMissingTensorIsNamed() throws Exception {
    Path file = file(t -> t.remove("layers.0.attention.sel_v"));
    assertRefused(file, Optional.of(MODEL), file + " does not hold the model's parameters (19 in the model, 18 tensors in the file; "
        + "1 differences): tensor 'layers.0.attention.sel_v' [6, 16] is missing (parameter layers/0/attention/sel_v)");
  }

  @Test
  void anExtraTensorIsNamed() throws Exception {
    Path file = file(t -> t.put("layers.0.attention.bias", f32(Shape.of(16))));
    assertRefused(file, Optional.of(MODEL), file + " does not hold the model's parameters (19 in the model, 20 tensors in the file; "
        + "1 differences): tensor 'layers.0.attention.bias' [16] is not a parameter of the model");
  }

  @Test
  void aShapeThatIsNotTheModelsIsNamedWithBothShapes() throws Exception {
    // The project's own [D, H*dh] layout, not the file's transposed one.
    Path file = file(t -> t.put("layers.0.attention.q.weight", f32(Shape.of(16, 24))));
    assertRefused(file, Optional.of(MODEL), file + ": tensor 'layers.0.attention.q.weight' has shape [16, 24]; the model needs "
        + "[24, 16] (parameter layers/0/attention/q [16, 24], transposed)");
  }

  @Test
  void aTensorOfAnotherModelSizeIsRefused() throws Exception {
    Path file = file(t -> t.put("layers.0.attention.v", f32(Shape.of(6, 16, 4))));
    assertRefused(file, Optional.of(MODEL), file + ": tensor 'layers.0.attention.v' has shape [6, 16, 4]; the model needs [6, 16, 12] "
        + "(parameter layers/0/attention/v [6, 16, 12], as is)");
  }

  @Test
  void aDtypeOtherThanF32IsRefused() throws Exception {
    Path file = file(t -> t.put("output.bias", new SafeTensorsFile.Tensor(Dtype.F16, Shape.of(256), new byte[512])));
    assertRefused(file, Optional.of(MODEL), file + ": tensor 'output.bias' is F16; the model's parameters are F32 (save them as float32)");
  }

  @Test
  void aMalformedFileIsRefusedBeforeAnythingIsWritten() throws Exception {
    Path file = Files.write(dir.resolve("garbage.safetensors"), "not a safetensors file at all".getBytes(StandardCharsets.UTF_8));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> WeightsImport.importRun(file, Optional.of(MODEL), TrainedRuns.TRAIN, corpus, runs.resolve("new-run")));
    assertTrue(e.getMessage().startsWith(file + ": the header length, "), e.getMessage());
    try (Stream<Path> left = Files.list(runs)) {
      assertEquals(0, left.count());
    }
  }

  @Test
  void aFileWithoutARecordedModelNeedsOneGiven() throws Exception {
    Path file = file(t -> {});
    assertRefused(file, Optional.empty(), file + " records no model config in its __metadata__ (it was not written by weights "
        + "export): say which model its tensors are (a preset or a config)");
  }

  @Test
  void anExistingDirectoryIsNeverReplaced() throws Exception {
    Path run = Files.createDirectories(runs.resolve("taken"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> WeightsImport.importRun(file(t -> {}), Optional.of(MODEL), TrainedRuns.TRAIN, corpus, run));
    assertEquals(run + " exists; an import makes a new run directory", e.getMessage());
  }
}
