package io.switchhead.savedmodel.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.PeerConfig;
import io.switchhead.graph.config.PerBlockFeedForwardConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.generate.Generator;
import io.switchhead.graph.generate.Sampling;
import io.switchhead.graph.generate.TokenDecoder;
import io.switchhead.savedmodel.ServedModel;
import io.switchhead.graph.train.Checkpoints;
import io.switchhead.graph.train.RunState;
import io.switchhead.graph.train.Trainer;
import io.switchhead.graph.train.VerifiedCheckpoint;
import io.switchhead.savedmodel.SavedModelExport;
import io.switchhead.savedmodel.ServingSignatures;
import io.switchhead.testing.Seeded;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.SavedModelBundle;

/**
 * Checkpoint -> safetensors -> checkpoint of a trained XL SwitchAll model: the parameters come back
 * bit for bit, and the imported run is a run like any other (it resumes, generates and exports).
 */
class WeightsRoundTripTest {

  /**
   * XL SwitchHead attention (E = 3), the sigma-MoE feed-forward and PEER in block 1 (BatchNorm
   * statistics, buffers beside the parameters): every kind of state a checkpoint holds.
   */
  private static final ModelConfig MODEL = new ModelConfig(256, 16, 2, 8, new SwitchHeadConfig(2, 3, 2, 8, Positional.XL, 0.1),
      new PerBlockFeedForwardConfig(new PeerConfig(16, 2, 3, 4, PeerConfig.Activation.GELU, 0.9, 1e-3),
          new SigmaMoeConfig(4, 8, 2, 0.1, 1e-3), 1, 2), 0.1, 0.7);

  @TempDir static Path dir;
  @Seeded private static Random corpusRandom;
  private static Corpus corpus;
  private static Path trained;
  private static Path file;
  private static Path imported;

  @BeforeAll
  static void trainExportImport() {
    corpus = TrainedRuns.corpus(dir, corpusRandom);
    trained = TrainedRuns.train(MODEL, corpus, dir.resolve("trained"), 2);
    file = dir.resolve("trained.safetensors");
    WeightsExport.export(trained, OptionalLong.empty(), file, false, warning -> {});
    imported = dir.resolve("imported");
    // No model given: the one the export recorded in the metadata.
    WeightsImport.importRun(file, Optional.empty(), TrainedRuns.TRAIN, corpus, imported);
  }

  private static VerifiedCheckpoint latest(Path run) {
    return Checkpoints.latestVerified(run, warning -> {
      throw new AssertionError(warning);
    });
  }

  private static List<String> parameterPaths() {
    return WeightNames.of(MODEL).stream().map(WeightName::path).toList();
  }

  @Test
  void theImportedCheckpointHoldsTheTrainedParametersBitForBit() {
    VerifiedCheckpoint original = latest(trained);
    VerifiedCheckpoint copy = latest(imported);
    for (String path : parameterPaths()) {
      assertArrayEquals(TrainedRuns.savedBytes(original, path), TrainedRuns.savedBytes(copy, path), path);
    }
  }

  /** The same variables as a run's (slots and memories included), the state of a new run at step 0, fresh Adam state. */
  @Test
  void theImportedRunIsANewRunAtStepZeroWithZeroOptimizerState() {
    VerifiedCheckpoint original = latest(trained);
    VerifiedCheckpoint copy = latest(imported);
    assertEquals(original.index().tensors().keySet(), copy.index().tensors().keySet());
    RunState state = copy.state();
    assertEquals(0, state.nextStep());
    assertEquals(MODEL, state.model());
    assertEquals(TrainedRuns.TRAIN, state.train());
    assertEquals(corpus.source(), state.data());
    assertNull(state.validationBpc());
    List<String> training = new ArrayList<>(copy.index().tensors().keySet());
    training.removeAll(parameterPaths());
    assertFalse(training.isEmpty());
    boolean originalMoved = false;
    for (String name : training) {
      byte[] bytes = TrainedRuns.savedBytes(copy, name);
      assertArrayEquals(new byte[bytes.length], bytes, name + " is zeros, as in a new run");
      originalMoved |= !Arrays.equals(new byte[bytes.length], TrainedRuns.savedBytes(original, name));
    }
    assertTrue(originalMoved, "the trained run's slots moved: zeros above are the import's, not every run's");
    assertTrue(Files.exists(imported.resolve(WeightsImport.RECORD)));
  }

  /** Exported again, the imported run gives the file it came from, tensor for tensor (the metadata says step 0 now). */
  @Test
  void theImportedRunExportsTheSameTensors() {
    Path again = dir.resolve("again.safetensors");
    WeightsExport.export(imported, OptionalLong.empty(), again, false, warning -> {});
    SafeTensorsFile first = SafeTensorsFile.read(file);
    SafeTensorsFile second = SafeTensorsFile.read(again);
    assertEquals(List.copyOf(first.tensors().keySet()), List.copyOf(second.tensors().keySet()));
    first.tensors().forEach((name, t) -> {
      assertEquals(t.shape(), second.tensors().get(name).shape(), name);
      assertArrayEquals(t.data(), second.tensors().get(name).data(), name);
    });
    assertEquals("2", first.metadata().get(WeightsExport.STEP));
    assertEquals("0", second.metadata().get(WeightsExport.STEP));
  }

  @Test
  void theImportedRunGeneratesWhatTheTrainedRunGenerates() {
    int[] prompt = {97, 98, 99};
    try (ServedModel a = ServedModel.fromRun(trained, OptionalLong.empty(), warning -> {});
        ServedModel b = ServedModel.fromRun(imported, OptionalLong.empty(), warning -> {});
        TokenDecoder da = a.cachedDecoder();
        TokenDecoder db = b.cachedDecoder()) {
      assertArrayEquals(Generator.continueFrom(da, prompt, 6, Sampling.of(0, 1), t -> {}),
          Generator.continueFrom(db, prompt, 6, Sampling.of(0, 1), t -> {}));
    }
  }

  /** A second import of the file trains on from step 0, saves, and exports a SavedModel that loads. */
  @Test
  void anImportedRunResumesTrainingAndExportsASavedModel() {
    Path run = dir.resolve("resumed");
    WeightsImport.importRun(file, Optional.of(MODEL), TrainedRuns.TRAIN, corpus, run);
    try (Trainer trainer = Trainer.resume(run, corpus, warning -> {})) {
      assertEquals(0, trainer.nextStep());
      trainer.step();
      trainer.step();
      trainer.checkpoint();
    }
    VerifiedCheckpoint resumed = latest(run);
    assertEquals(2, resumed.state().nextStep());
    assertFalse(Arrays.equals(TrainedRuns.savedBytes(latest(imported), "output/w"), TrainedRuns.savedBytes(resumed, "output/w")),
        "the steps changed the parameters");
    Path savedModel = dir.resolve("resumed-model");
    SavedModelExport.export(run, OptionalLong.empty(), savedModel, false, warning -> {});
    try (SavedModelBundle bundle = SavedModelBundle.load(savedModel.toString(), ServingSignatures.TAG)) {
      assertTrue(bundle.metaGraphDef().getSignatureDefMap().containsKey(ServingSignatures.DEFAULT));
    }
  }
}
