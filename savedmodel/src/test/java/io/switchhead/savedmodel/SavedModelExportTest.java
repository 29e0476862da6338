package io.switchhead.savedmodel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.accounting.ParameterCount;
import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.PeerConfig;
import io.switchhead.graph.config.PerBlockFeedForwardConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.train.Checkpoints;
import io.switchhead.graph.train.VerifiedCheckpoint;
import io.switchhead.graph.train.TrainConfig;
import io.switchhead.graph.train.Trainer;
import io.switchhead.graph.train.XlaMode;
import io.switchhead.ops.Tensors;
import io.switchhead.testing.Seeded;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.types.TInt32;

/** An export of a trained checkpoint, loaded and run as a server would: by signature and tensor names. */
class SavedModelExportTest {

  /** RoPE SwitchHead attention, dense feed-forward. */
  private static final ModelConfig TINY = new ModelConfig(256, 16, 1, 8, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.1),
      new DenseFeedForwardConfig(8), 0.1, 0.7);

  /** XL SwitchHead attention and the sigma-MoE feed-forward (SwitchAll): memories in training, none when served. */
  private static final ModelConfig XL = new ModelConfig(256, 16, 2, 8, new SwitchHeadConfig(2, 3, 2, 8, Positional.XL, 0.1),
      new SigmaMoeConfig(4, 8, 2, 0.1, 1e-3), 0.1, 0.7);

  /** PEER in the second block: its BatchNorm moving statistics are served as trained. */
  private static final ModelConfig PEER = new ModelConfig(256, 16, 2, 8, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.1),
      new PerBlockFeedForwardConfig(new PeerConfig(16, 2, 3, 4, PeerConfig.Activation.GELU, 0.9, 1e-3), new DenseFeedForwardConfig(8), 1, 2),
      0.1, 0.7);

  /** A run trained for two steps, a checkpoint after each, and the SavedModel of its latest. */
  private record Exported(ModelConfig model, Path run, Path checkpoint, Path savedModel) {}

  @TempDir static Path dir;
  @Seeded private static Random corpusRandom;
  @Seeded private Random random;
  private static Exported tiny;
  private static Exported xl;
  private static Exported peer;

  @BeforeAll
  static void trainAndExport() throws Exception {
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < 3000; i++) {
      text.append((char) ('a' + corpusRandom.nextInt(8)));
    }
    Corpus corpus = Corpus.load(Files.writeString(dir.resolve("corpus.txt"), text));
    tiny = trainAndExport(TINY, corpus, "tiny");
    xl = trainAndExport(XL, corpus, "xl");
    peer = trainAndExport(PEER, corpus, "peer");
  }

  private static Exported trainAndExport(ModelConfig model, Corpus corpus, String name) {
    TrainConfig train = new TrainConfig(2, 3, 1e-2, 1, 1.0, 0.0, 5, XlaMode.OFF, 1000, 1, 1000, 2);
    Path run = dir.resolve(name + "-run");
    Path checkpoint;
    try (Trainer trainer = Trainer.start(model, train, corpus, run)) {
      trainer.step();
      trainer.checkpoint();
      trainer.step();
      checkpoint = trainer.checkpoint();
    }
    Path savedModel = dir.resolve(name + "-model");
    SavedModelExport.export(run, OptionalLong.empty(), savedModel, false, warning -> {});
    return new Exported(model, run, checkpoint, savedModel);
  }

  private int[] tokens(int batch, int time) {
    return random.ints((long) batch * time, 0, TINY.vocabSize()).toArray();
  }

  /** The training graph's logits over the export's checkpoint. */
  private static float[] referenceLogits(Exported e, int[] tokens, int batch, int time) {
    return TrainingLogits.of(e.model(), e.checkpoint(), tokens, batch, time);
  }

  /** Runs a signature by the tensor names its SignatureDef gives, as TF Serving does. */
  private static float[] run(SavedModelBundle bundle, String signature, String output, int[] tokens, int batch, int time) {
    SignatureDef def = bundle.metaGraphDef().getSignatureDefOrThrow(signature);
    try (TInt32 x = Tensors.ints(Shape.of(batch, time), tokens);
        Result r = bundle.session().runner().feed(def.getInputsOrThrow(ServingSignatures.TOKENS).getName(), x)
            .fetch(def.getOutputsOrThrow(output).getName()).run()) {
      return Tensors.toFloats(r.get(0));
    }
  }

  private static void assertLogitsEqual(float[] want, float[] got, String what) {
    assertEquals(want.length, got.length, what);
    for (int i = 0; i < want.length; i++) {
      assertEquals(want[i], got[i], 1e-5f * Math.max(1, Math.abs(want[i])), what + " at " + i);
    }
  }

  private void assertServesTheTrainingGraphsLogits(Exported e) {
    try (SavedModelBundle bundle = SavedModelBundle.load(e.savedModel().toString(), ServingSignatures.TAG)) {
      for (int[] shape : new int[][] {{1, 1}, {3, 7}, {2, e.model().context()}}) {
        int[] tokens = tokens(shape[0], shape[1]);
        float[] got = run(bundle, ServingSignatures.DEFAULT, ServingSignatures.LOGITS, tokens, shape[0], shape[1]);
        assertLogitsEqual(referenceLogits(e, tokens, shape[0], shape[1]), got, "shape " + shape[0] + "x" + shape[1]);
      }
    }
  }

  @Test
  void servingDefaultGivesTheTrainingGraphsLogitsAtEveryShape() {
    assertServesTheTrainingGraphsLogits(tiny);
  }

  /** XL: the serving graph runs without memory, as generation does, and gives that forward's logits. */
  @Test
  void anXlSwitchAllModelServesWithoutMemory() {
    assertServesTheTrainingGraphsLogits(xl);
  }

  @Test
  void aPeerModelServesWithItsTrainedMovingStatistics() {
    assertServesTheTrainingGraphsLogits(peer);
    try (SavedModelBundle bundle = SavedModelBundle.load(peer.savedModel().toString(), ServingSignatures.TAG);
        Result r = bundle.session().runner().fetch("layers/1/ff/bn_mean").fetch("layers/1/ff/bn_variance").run()) {
      float[] mean = Tensors.toFloats(r.get(0));
      float[] variance = Tensors.toFloats(r.get(1));
      assertEquals(2 * 4, mean.length);
      boolean moved = false;
      for (int i = 0; i < mean.length; i++) {
        moved |= mean[i] != 0 || variance[i] != 1;
      }
      assertTrue(moved, "two training steps moved the moving statistics off their initial zeros and ones");
    }
  }

  @Test
  void nextTokenLogprobsAreTheLogSoftmaxOfTheLastPosition() {
    int batch = 3;
    int time = 5;
    int v = TINY.vocabSize();
    int[] tokens = tokens(batch, time);
    try (SavedModelBundle bundle = SavedModelBundle.load(tiny.savedModel().toString(), ServingSignatures.TAG)) {
      float[] logprobs = run(bundle, ServingSignatures.NEXT_TOKEN_LOGPROBS, ServingSignatures.LOGPROBS, tokens, batch, time);
      double[] expected = TrainingLogits.lastLogSoftmax(referenceLogits(tiny, tokens, batch, time), batch, time, v);
      for (int i = 0; i < expected.length; i++) {
        assertEquals(expected[i], logprobs[i], 1e-4, "row " + i / v + " token " + i % v);
      }
    }
  }

  @Test
  void idsOutsideTheVocabularyAndTimePastTheContextAreRefusedByTheGraph() {
    try (SavedModelBundle bundle = SavedModelBundle.load(tiny.savedModel().toString(), ServingSignatures.TAG)) {
      int[] bad = tokens(2, 3);
      bad[4] = TINY.vocabSize();
      RuntimeException ids = assertThrows(RuntimeException.class,
          () -> run(bundle, ServingSignatures.DEFAULT, ServingSignatures.LOGITS, bad, 2, 3));
      assertTrue(ids.getMessage().contains("every token id must be in [0, 256), got ids from"), ids.getMessage());
      int[] negative = tokens(1, 2);
      negative[0] = -1;
      RuntimeException below = assertThrows(RuntimeException.class,
          () -> run(bundle, ServingSignatures.NEXT_TOKEN_LOGPROBS, ServingSignatures.LOGPROBS, negative, 1, 2));
      assertTrue(below.getMessage().contains("every token id must be in [0, 256)"), below.getMessage());
      int tooLong = TINY.context() + 1;
      RuntimeException time = assertThrows(RuntimeException.class,
          () -> run(bundle, ServingSignatures.DEFAULT, ServingSignatures.LOGITS, tokens(1, tooLong), 1, tooLong));
      assertTrue(time.getMessage().contains("time dimension must be in [1, 8] (at most the context), got] [9]"), time.getMessage());
      RuntimeException empty = assertThrows(RuntimeException.class,
          () -> run(bundle, ServingSignatures.DEFAULT, ServingSignatures.LOGITS, new int[0], 0, 3));
      assertTrue(empty.getMessage().contains("batch dimension must be at least 1"), empty.getMessage());
    }
  }

  /** Weights only: the variables' data is the parameter count times 4 bytes (no Adam slots, no XL memories). */
  @Test
  void theVariablesAreTheWeightsOnly() throws Exception {
    for (Exported e : List.of(tiny, xl, peer)) {
      long bytes;
      try (Stream<Path> files = Files.list(e.savedModel().resolve("variables"))) {
        bytes = files.filter(p -> p.getFileName().toString().startsWith("variables.data-")).mapToLong(p -> p.toFile().length()).sum();
      }
      // Buffers (PEER's BatchNorm statistics) are served beside the parameters.
      assertEquals((ParameterCount.of(e.model()).total() + ParameterCount.buffers(e.model())) * 4, bytes, e.model().toString());
      SavedModelExport.Description d = SavedModelExport.readDescription(e.savedModel());
      assertEquals(e.model(), d.model());
      assertEquals(2, d.step());
      assertEquals(e.checkpoint().toAbsolutePath().toString(), d.checkpoint());
      assertEquals(ConfigJson.write(e.model()), ConfigJson.write(d.model()));
    }
  }

  /** What a server reads from the MetaGraphDef: the tag, each signature's method, dtypes and dynamic shapes. */
  @Test
  void theSignaturesDeclareTheirMethodDtypesAndShapes() {
    try (SavedModelBundle bundle = SavedModelBundle.load(tiny.savedModel().toString(), ServingSignatures.TAG)) {
      assertEquals(List.of(ServingSignatures.TAG), bundle.metaGraphDef().getMetaInfoDef().getTagsList());
      long v = TINY.vocabSize();
      SignatureDef logits = bundle.metaGraphDef().getSignatureDefOrThrow(ServingSignatures.DEFAULT);
      SignatureDef logprobs = bundle.metaGraphDef().getSignatureDefOrThrow(ServingSignatures.NEXT_TOKEN_LOGPROBS);
      for (SignatureDef def : List.of(logits, logprobs)) {
        assertEquals(ServingSignatures.PREDICT, def.getMethodName());
        assertEquals(List.of(ServingSignatures.TOKENS), List.copyOf(def.getInputsMap().keySet()));
        assertTensor(def.getInputsOrThrow(ServingSignatures.TOKENS), DataType.DT_INT32, -1, -1);
      }
      assertEquals(List.of(ServingSignatures.LOGITS), List.copyOf(logits.getOutputsMap().keySet()));
      assertTensor(logits.getOutputsOrThrow(ServingSignatures.LOGITS), DataType.DT_FLOAT, -1, -1, v);
      assertEquals(List.of(ServingSignatures.LOGPROBS), List.copyOf(logprobs.getOutputsMap().keySet()));
      assertTensor(logprobs.getOutputsOrThrow(ServingSignatures.LOGPROBS), DataType.DT_FLOAT, -1, v);
    }
  }

  private static void assertTensor(TensorInfo info, DataType type, long... dims) {
    assertEquals(type, info.getDtype(), info.getName());
    assertArrayEquals(dims, info.getTensorShape().getDimList().stream().mapToLong(d -> d.getSize()).toArray(), info.getName());
  }

  /** One loaded bundle, eight threads calling it at once, each with its own shape and tokens. */
  @Test
  void eightThreadsCallingOneBundleEachGetTheirOwnAnswer() throws Exception {
    int threads = 8;
    int calls = 4;
    List<int[]> shapes = new ArrayList<>();
    List<int[]> inputs = new ArrayList<>();
    List<float[]> expected = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      int[] shape = {1 + i % 3, 1 + i % TINY.context()};
      shapes.add(shape);
      inputs.add(tokens(shape[0], shape[1]));
      expected.add(referenceLogits(tiny, inputs.get(i), shape[0], shape[1]));
    }
    CyclicBarrier start = new CyclicBarrier(threads);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try (SavedModelBundle bundle = SavedModelBundle.load(tiny.savedModel().toString(), ServingSignatures.TAG)) {
      List<Future<List<float[]>>> answers = new ArrayList<>();
      for (int i = 0; i < threads; i++) {
        int[] shape = shapes.get(i);
        int[] in = inputs.get(i);
        answers.add(pool.submit(() -> {
          start.await();
          List<float[]> got = new ArrayList<>();
          for (int c = 0; c < calls; c++) {
            got.add(run(bundle, ServingSignatures.DEFAULT, ServingSignatures.LOGITS, in, shape[0], shape[1]));
          }
          return got;
        }));
      }
      for (int i = 0; i < threads; i++) {
        List<float[]> got = answers.get(i).get();
        for (int c = 0; c < calls; c++) {
          assertLogitsEqual(expected.get(i), got.get(c), "thread " + i + " call " + c);
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aRunsCheckpointIsFoundByStepOrTheLatest() {
    assertEquals(tiny.checkpoint(), SavedModelExport.checkpoint(tiny.run(), OptionalLong.empty(), warning -> {}).directory());
    assertEquals(tiny.checkpoint(), SavedModelExport.checkpoint(tiny.run(), OptionalLong.of(2), warning -> {}).directory());
    VerifiedCheckpoint first = SavedModelExport.checkpoint(tiny.run(), OptionalLong.of(1), warning -> {});
    assertEquals(1, first.state().nextStep());
    SavedModelExport.Description d = SavedModelExport.export(tiny.run(), OptionalLong.of(1), dir.resolve("step-1"), false, warning -> {});
    assertEquals(1, d.step());

    IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
        () -> SavedModelExport.checkpoint(tiny.run(), OptionalLong.of(7), warning -> {}));
    assertEquals("no checkpoint of step 7 in " + tiny.run().resolve("checkpoints") + "; it keeps steps [1, 2]", unknown.getMessage());
    IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
        () -> SavedModelExport.export(dir.resolve("no-run"), OptionalLong.empty(), dir.resolve("unwritten"), false, warning -> {}));
    assertEquals("no complete checkpoint in " + dir.resolve("no-run").resolve("checkpoints") + " (none was saved there yet)", none.getMessage());
    assertTrue(Files.notExists(dir.resolve("unwritten")));
  }

  @Test
  void anExistingDirectoryIsRefusedUnlessOverwriting() throws Exception {
    Path target = Files.createDirectories(dir.resolve("taken"));
    Path keep = Files.writeString(target.resolve("keep.txt"), "mine");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SavedModelExport.export(tiny.run(), OptionalLong.empty(), target, false, warning -> {}));
    assertEquals(target + " exists; pass --overwrite to replace it", e.getMessage());
    assertEquals("mine", Files.readString(keep));
    SavedModelExport.export(tiny.run(), OptionalLong.empty(), target, true, warning -> {});
    assertTrue(Files.exists(target.resolve("saved_model.pb")));
    assertTrue(Files.notExists(keep));
    try (Stream<Path> siblings = Files.list(dir)) {
      assertEquals(0, siblings.filter(p -> p.getFileName().toString().contains(".partial-") || p.getFileName().toString().contains(".old-")).count());
    }
  }
}
