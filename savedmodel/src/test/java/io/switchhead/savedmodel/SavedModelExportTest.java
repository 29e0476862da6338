package io.switchhead.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.accounting.ParameterCount;
import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.model.ForwardGraph;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.graph.train.Checkpoints;
import io.switchhead.graph.train.TrainConfig;
import io.switchhead.graph.train.Trainer;
import io.switchhead.graph.train.XlaMode;
import io.switchhead.ops.Tensors;
import io.switchhead.testing.Seeded;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/** An export of a trained checkpoint, loaded and run as a server would: by signature and tensor names. */
class SavedModelExportTest {

  private static final ModelConfig TINY = new ModelConfig(256, 16, 1, 8, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.1),
      new DenseFeedForwardConfig(8), 0.1, 0.7);

  @TempDir static Path dir;
  @Seeded private static Random corpusRandom;
  @Seeded private Random random;
  private static Path checkpoint;
  private static Path exported;

  @BeforeAll
  static void trainAndExport() throws Exception {
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < 3000; i++) {
      text.append((char) ('a' + corpusRandom.nextInt(8)));
    }
    Corpus corpus = Corpus.load(Files.writeString(dir.resolve("corpus.txt"), text));
    TrainConfig train = new TrainConfig(2, 3, 1e-2, 1, 1.0, 0.0, 5, XlaMode.OFF, 1000, 1, 1000, 2);
    try (Trainer trainer = Trainer.start(TINY, train, corpus, dir.resolve("run"))) {
      trainer.step();
      trainer.step();
      checkpoint = trainer.checkpoint();
    }
    exported = dir.resolve("model");
    SavedModelExport.export(checkpoint, exported, false);
  }

  private int[] tokens(int batch, int time) {
    return random.ints((long) batch * time, 0, TINY.vocabSize()).toArray();
  }

  /** The logits of the training graph's forward over the checkpoint, each row padded to the context. */
  private static float[] referenceLogits(int[] tokens, int batch, int time) {
    int t = TINY.context();
    int[] window = new int[batch * t];
    for (int b = 0; b < batch; b++) {
      System.arraycopy(tokens, b * time, window, b * t, time);
    }
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Placeholder<TInt32> in = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(batch, t)));
      ParamStore store = ParamStore.variables(tf, 0);
      var logits = ForwardGraph.build(TINY, store, LayerContext.eval(tf), ForwardGraph.Inputs.tokens(in)).logits();
      try (Session s = new Session(g)) {
        s.restore(Checkpoints.variablesPrefix(checkpoint));
        try (TInt32 x = Tensors.ints(Shape.of(batch, t), window);
            Result r = s.runner().feed(in, x).fetch(logits).run()) {
          float[] all = Tensors.toFloats(r.get(0));
          int v = TINY.vocabSize();
          float[] cut = new float[batch * time * v];
          for (int b = 0; b < batch; b++) {
            System.arraycopy(all, b * t * v, cut, b * time * v, time * v);
          }
          return cut;
        }
      }
    }
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

  @Test
  void servingDefaultGivesTheTrainingGraphsLogitsAtEveryShape() {
    try (SavedModelBundle bundle = SavedModelBundle.load(exported.toString(), ServingSignatures.TAG)) {
      for (int[] shape : new int[][] {{1, 1}, {3, 7}, {2, TINY.context()}}) {
        int[] tokens = tokens(shape[0], shape[1]);
        float[] got = run(bundle, ServingSignatures.DEFAULT, ServingSignatures.LOGITS, tokens, shape[0], shape[1]);
        float[] want = referenceLogits(tokens, shape[0], shape[1]);
        assertEquals(want.length, got.length);
        for (int i = 0; i < want.length; i++) {
          assertEquals(want[i], got[i], 1e-5f * Math.max(1, Math.abs(want[i])), "shape " + shape[0] + "x" + shape[1] + " at " + i);
        }
      }
    }
  }

  @Test
  void nextTokenLogprobsAreTheLogSoftmaxOfTheLastPosition() {
    int batch = 3;
    int time = 5;
    int v = TINY.vocabSize();
    int[] tokens = tokens(batch, time);
    try (SavedModelBundle bundle = SavedModelBundle.load(exported.toString(), ServingSignatures.TAG)) {
      float[] logprobs = run(bundle, ServingSignatures.NEXT_TOKEN_LOGPROBS, ServingSignatures.LOGPROBS, tokens, batch, time);
      float[] logits = referenceLogits(tokens, batch, time);
      for (int b = 0; b < batch; b++) {
        int last = (b * time + time - 1) * v;
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < v; i++) {
          max = Math.max(max, logits[last + i]);
        }
        double sum = 0;
        for (int i = 0; i < v; i++) {
          sum += Math.exp(logits[last + i] - max);
        }
        for (int i = 0; i < v; i++) {
          assertEquals(logits[last + i] - max - Math.log(sum), logprobs[b * v + i], 1e-4, "row " + b + " token " + i);
        }
      }
    }
  }

  @Test
  void idsOutsideTheVocabularyAndTimePastTheContextAreRefusedByTheGraph() {
    try (SavedModelBundle bundle = SavedModelBundle.load(exported.toString(), ServingSignatures.TAG)) {
      int[] bad = tokens(2, 3);
      bad[4] = TINY.vocabSize();
      RuntimeException ids = assertThrows(RuntimeException.class,
          () -> run(bundle, ServingSignatures.DEFAULT, ServingSignatures.LOGITS, bad, 2, 3));
      assertTrue(ids.getMessage().contains("every token id must be in [0, 256)"), ids.getMessage());
      int[] negative = tokens(1, 2);
      negative[0] = -1;
      assertThrows(RuntimeException.class, () -> run(bundle, ServingSignatures.DEFAULT, ServingSignatures.LOGITS, negative, 1, 2));
      int tooLong = TINY.context() + 1;
      RuntimeException time = assertThrows(RuntimeException.class,
          () -> run(bundle, ServingSignatures.DEFAULT, ServingSignatures.LOGITS, tokens(1, tooLong), 1, tooLong));
      assertTrue(time.getMessage().contains("time dimension must be in [1, 8]"), time.getMessage());
    }
  }

  /** Weights only: the variables' data is the parameter count times 4 bytes (no Adam slots, no memories). */
  @Test
  void theVariablesAreTheWeightsOnly() throws Exception {
    long bytes;
    try (Stream<Path> files = Files.list(exported.resolve("variables"))) {
      bytes = files.filter(p -> p.getFileName().toString().startsWith("variables.data-")).mapToLong(p -> p.toFile().length()).sum();
    }
    assertEquals(ParameterCount.of(TINY).total() * 4, bytes);
    SavedModelExport.Description d = SavedModelExport.readDescription(exported);
    assertEquals(TINY, d.model());
    assertEquals(2, d.step());
    assertEquals(ConfigJson.write(TINY), ConfigJson.write(d.model()));
  }

  @Test
  void anExistingDirectoryIsRefusedUnlessOverwriting() throws Exception {
    Path target = Files.createDirectories(dir.resolve("taken"));
    Path keep = Files.writeString(target.resolve("keep.txt"), "mine");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SavedModelExport.export(checkpoint, target, false));
    assertTrue(e.getMessage().contains("--overwrite"), e.getMessage());
    assertEquals("mine", Files.readString(keep));
    SavedModelExport.export(checkpoint, target, true);
    assertTrue(Files.exists(target.resolve("saved_model.pb")));
    assertTrue(Files.notExists(keep));
    try (Stream<Path> siblings = Files.list(dir)) {
      assertEquals(0, siblings.filter(p -> p.getFileName().toString().contains(".partial-") || p.getFileName().toString().contains(".old-")).count());
    }
  }
}
