package io.switchhead.graph.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.DenseAttentionConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.PeerConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.Tensors;
import io.switchhead.testing.Seeded;
import io.switchhead.graph.data.Corpus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/** PEER's BatchNorm moving statistics: moved by a training step (plain and XLA), saved, read by evaluation. */
class PeerTrainingTest {

  /** 64 experts, 2 per token: a batch of 8 tokens leaves most rows unread; GELU, so every row read gets a gradient. */
  private static final PeerConfig PEER = new PeerConfig(64, 1, 2, 4, PeerConfig.Activation.GELU, 0.9, 1e-3);
  private static final ModelConfig MODEL = new ModelConfig(32, 16, 1, 4, new DenseAttentionConfig(2, 8, Positional.ROPE), PEER, 0, 0.7);
  private static final int BATCH = 2;

  @Seeded private Random random;

  private static List<float[]> read(TrainingGraph graph, List<ParamStore.Param> buffers) {
    Session.Runner runner = graph.session().runner();
    buffers.forEach(b -> runner.fetch(b.value()));
    List<float[]> values = new ArrayList<>();
    try (Result r = runner.run()) {
      for (int i = 0; i < buffers.size(); i++) {
        values.add(Tensors.toFloats(r.get(i)));
      }
    }
    return values;
  }

  @TempDir Path dir;

  /**
   * The moving statistics travel in checkpoints: a resumed run evaluates (with them) as the run did
   * before it stopped; with the statistics at their initial zeros and ones it would not.
   */
  @Test
  void aResumedRunEvaluatesWithTheMovingStatisticsItSaved() throws Exception {
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < 3000; i++) {
      text.append((char) ('a' + random.nextInt(5)));
    }
    Corpus corpus = Corpus.load(Files.writeString(dir.resolve("corpus.txt"), text));
    ModelConfig model = new ModelConfig(256, 16, 1, 4, new DenseAttentionConfig(2, 8, Positional.ROPE), PEER, 0, 0.7);
    Path run = dir.resolve("run");
    double before;
    try (Trainer trainer = Trainer.start(model, TrainerTest.config(8, XlaMode.OFF), corpus, run)) {
      for (int i = 0; i < 4; i++) {
        trainer.step();
      }
      trainer.checkpoint();
      before = trainer.evaluate();
    }
    try (Trainer trainer = Trainer.resume(run, corpus, warning -> {})) {
      assertEquals(before, trainer.evaluate(), 1e-6);
    }
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(value = StepKind.class, names = {"PLAIN", "XLA"})
  void aStepMovesTheMovingStatisticsTowardTheBatchOnesAndEvaluationReadsThem(StepKind kind) {
    try (TrainingGraph graph = new TrainingGraph(MODEL, new StepSettings(BATCH, 1, AdamW.paper(0), 1.0), EnumSet.of(kind))) {
      ParamStore store = graph.store();
      List<ParamStore.Param> buffers = store.buffers();
      assertEquals(List.of("layers/0/ff/bn_mean", "layers/0/ff/bn_variance"), buffers.stream().map(b -> b.spec().path()).toList());
      assertTrue(graph.variables().keySet().containsAll(List.of("layers/0/ff/bn_mean", "layers/0/ff/bn_variance")),
          "checkpoints save every variable, the buffers too: " + graph.variables().keySet());
      int[] tokens = random.ints(BATCH * (MODEL.context() + 1), 0, MODEL.vocabSize()).toArray();
      double before = graph.evaluationLossSum(tokens);

      // The batch statistics of these tokens under the current parameters, as the step computes them.
      List<float[]> targets = new ArrayList<>();
      Session.Runner runner = graph.session().runner();
      store.bufferUpdates().forEach(u -> runner.fetch(u.target()));
      try (TInt32 t = Tensors.ints(Shape.of(BATCH, MODEL.context() + 1), tokens);
          TInt64 seed = TInt64.vectorOf(3, 0);
          Result r = runner.feed("tokens", t).feed("step_seed", seed).run()) {
        for (int i = 0; i < store.bufferUpdates().size(); i++) {
          targets.add(Tensors.toFloats(r.get(i)));
        }
      }
      // The rows of u and v this batch reads, under the current parameters.
      java.util.Set<Integer> readRows = new java.util.HashSet<>();
      try (TInt32 t = Tensors.ints(Shape.of(BATCH, MODEL.context() + 1), tokens);
          Result r = graph.session().runner().fetch(store.rowReads().get("layers/0/ff/u").ids()).feed("tokens", t).run()) {
        for (int id : Tensors.toInts(r.get(0))) {
          readRows.add(id);
        }
      }
      List<ParamStore.Param> tables = store.params().stream().filter(p -> store.rowReads().containsKey(p.spec().path())).toList();
      assertEquals(List.of("layers/0/ff/u", "layers/0/ff/v"), tables.stream().map(p -> p.spec().path()).toList());
      List<float[]> tablesBefore = read(graph, tables);
      List<float[]> initial = read(graph, buffers);
      graph.step(tokens, 0, 3, 1e-3, false);
      for (int i = 0; i < buffers.size(); i++) {
        assertArrayEquals(initial.get(i), read(graph, buffers).get(i), "a step without its update moves nothing");
      }
      graph.step(tokens, 0, 3, 1e-3, true);
      List<float[]> after = read(graph, buffers);
      for (int i = 0; i < buffers.size(); i++) {
        float[] expected = new float[initial.get(i).length];
        for (int j = 0; j < expected.length; j++) {
          expected[j] = (float) (initial.get(i)[j] - (1 - PEER.batchNormMomentum()) * (initial.get(i)[j] - targets.get(i)[j]));
        }
        assertArrayEquals(expected, after.get(i), 1e-4f, buffers.get(i).spec().path());
        assertTrue(!java.util.Arrays.equals(initial.get(i), after.get(i)), buffers.get(i).spec().path() + " moved");
      }
      List<float[]> tablesAfter = read(graph, tables);
      for (int i = 0; i < tables.size(); i++) {
        for (int row = 0; row < PEER.experts(); row++) {
          float[] was = java.util.Arrays.copyOfRange(tablesBefore.get(i), row * 16, row * 16 + 16);
          float[] is = java.util.Arrays.copyOfRange(tablesAfter.get(i), row * 16, row * 16 + 16);
          if (readRows.contains(row)) {
            assertTrue(!java.util.Arrays.equals(was, is), tables.get(i).spec().path() + " row " + row + " was read and moved");
          } else {
            assertArrayEquals(was, is, tables.get(i).spec().path() + " row " + row + " was not read and kept its values");
          }
        }
      }
      assertTrue(readRows.size() < PEER.experts(), "some rows unread: " + readRows.size());
      // Evaluation normalises with the moved statistics (and the step's new parameters): its loss changes.
      double afterLoss = graph.evaluationLossSum(tokens);
      assertTrue(Double.isFinite(afterLoss) && afterLoss != before, before + " then " + afterLoss);
    }
  }
}
