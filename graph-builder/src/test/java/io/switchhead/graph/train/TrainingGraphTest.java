package io.switchhead.graph.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.AttentionK;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.MhMoeConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.params.ParamSpec;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tensorflow.exceptions.TFInvalidArgumentException;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.DataType;

class TrainingGraphTest {

  private static final ModelConfig TINY = new ModelConfig(32, 16, 1, 4, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0),
      new DenseFeedForwardConfig(8), 0, 0.7);
  private static final StepSettings SETTINGS = new StepSettings(2, 1, AdamW.paper(0), 1.0);

  /**
   * Every attention matmul of a training step, forward and backward, is BatchMatMulV2, which oneDNN
   * runs: TensorFlow's batch matmul and its gradient emit V3, which oneDNN skips (AttentionMatmul).
   */
  @Test
  void noAttentionMatmulIsLeftOnBatchMatMulV3() {
    List<ModelConfig> models = List.of(TINY,
        new ModelConfig(32, 16, 1, 4, new SwitchHeadConfig(2, 3, 2, 8, Positional.XL, 0), new DenseFeedForwardConfig(8), 0, 0.7),
        new ModelConfig(32, 16, 1, 4, new io.switchhead.graph.config.DenseAttentionConfig(4, 4, Positional.ROPE), new DenseFeedForwardConfig(8), 0, 0.7),
        new ModelConfig(32, 16, 1, 4, new io.switchhead.graph.config.DenseAttentionConfig(4, 4, Positional.XL), new DenseFeedForwardConfig(8), 0, 0.7));
    for (ModelConfig model : models) {
      try (TrainingGraph graph = new TrainingGraph(model, SETTINGS, EnumSet.of(StepKind.PLAIN))) {
        java.util.List<String> v3 = new java.util.ArrayList<>();
        graph.graph().operations().forEachRemaining(op -> {
          if (op.type().equals("BatchMatMulV3")) {
            v3.add(op.name());
          }
        });
        assertTrue(v3.isEmpty(), model.attention() + ": " + v3);
      }
    }
  }

  @Test
  void eachXlaModeBuildsItsSteps() {
    assertEquals(Set.of(StepKind.PLAIN), StepKind.forMode(XlaMode.OFF));
    assertEquals(Set.of(StepKind.XLA), StepKind.forMode(XlaMode.ON));
    assertEquals(Set.of(StepKind.PLAIN, StepKind.XLA), StepKind.forMode(XlaMode.AUTO));
  }

  @Test
  void onlyBuiltStepsCanBeChosenAndOnePlainStepFitsAGraph() {
    try (TrainingGraph graph = new TrainingGraph(TINY, SETTINGS, EnumSet.of(StepKind.PLAIN))) {
      assertEquals(StepKind.PLAIN, graph.kind());
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> graph.use(StepKind.XLA));
      assertTrue(e.getMessage().contains("XLA step was not built"), e.getMessage());
    }
    IllegalArgumentException both = assertThrows(IllegalArgumentException.class,
        () -> new TrainingGraph(TINY, SETTINGS, EnumSet.of(StepKind.PLAIN, StepKind.PLAIN_STATIC_SHAPES)));
    assertTrue(both.getMessage().contains("one plain step"), both.getMessage());
  }

  /**
   * The compiled step's signature, the order its XLA module takes and returns values in, names
   * every argument and output: token windows, the seed, each parameter by path in the store's
   * order, an XL model's memory; then the losses and one gradient per parameter.
   */
  @Test
  void theCompiledStepSignatureNamesEachArgumentAndOutputInOrder() {
    ModelConfig xl = new ModelConfig(32, 16, 1, 4, new SwitchHeadConfig(2, 3, 2, 8, Positional.XL, 0), new DenseFeedForwardConfig(8), 0, 0.7);
    try (TrainingGraph graph = new TrainingGraph(xl, SETTINGS, EnumSet.of(StepKind.XLA))) {
      CompiledStepSignature sig = graph.compiledStepSignature();
      List<String> paths = graph.store().specs().stream().map(ParamSpec::path).toList();
      List<CompiledStepSignature.Slot> args = sig.arguments();
      assertEquals(List.of("inputs", "targets", "seed"), args.subList(0, 3).stream().map(CompiledStepSignature.Slot::what).toList());
      assertEquals(Shape.of(2, 4), args.get(0).shape());
      assertEquals(DataType.DT_INT64, args.get(2).dataType());
      assertEquals(paths, args.subList(3, 3 + paths.size()).stream().map(CompiledStepSignature.Slot::path).toList());
      assertEquals(graph.store().specs().get(0).shape(), args.get(3).shape());
      assertEquals(List.of("memory"), args.subList(3 + paths.size(), args.size()).stream().map(CompiledStepSignature.Slot::what).toList());
      List<CompiledStepSignature.Slot> outs = sig.outputs();
      assertEquals(List.of("loss", "lm_loss"), outs.subList(0, 2).stream().map(CompiledStepSignature.Slot::what).toList());
      assertEquals(paths, outs.subList(2, 2 + paths.size()).stream().map(CompiledStepSignature.Slot::path).toList());
      assertEquals("next_memory", outs.get(outs.size() - 1).what());
    }
    try (TrainingGraph plain = new TrainingGraph(TINY, SETTINGS, EnumSet.of(StepKind.PLAIN))) {
      IllegalStateException e = assertThrows(IllegalStateException.class, plain::compiledStepSignature);
      assertTrue(e.getMessage().contains("XLA step was not built"), e.getMessage());
    }
  }

  /**
   * An MH-MoE whose capacity holds at most a quarter of its choices reports that share dropped, in the
   * plain and in the compiled step: 8 tokens of 4 sub-tokens over 4 experts, C = ceil(0.25 * 8) = 2.
   */
  @Test
  void aCapacityReportsItsDroppedShareEachStepAndADroplessModelNone() {
    ModelConfig mh = new ModelConfig(32, 16, 1, 4, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0),
        new MhMoeConfig(4, 4, 1, 8, 0.25, 0.01, false), 0, 0.7);
    int[] tokens = new int[2 * (mh.context() + 1)];
    for (int i = 0; i < tokens.length; i++) {
      tokens[i] = (i * 7) % mh.vocabSize();
    }
    for (StepKind kind : List.of(StepKind.PLAIN, StepKind.XLA)) {
      try (TrainingGraph graph = new TrainingGraph(mh, SETTINGS, EnumSet.of(kind))) {
        assertEquals(List.of("layers/0/ff/sel"), graph.droppedNames(), kind.toString());
        StepMetrics m = graph.step(tokens, 0, 1, 1e-3, true);
        assertEquals(1, m.droppedShare().length, kind.toString());
        assertTrue(m.droppedShare()[0] >= 0.75 && m.droppedShare()[0] < 1, kind + ": " + m.droppedShare()[0]);
      }
    }
    try (TrainingGraph graph = new TrainingGraph(TINY, SETTINGS, EnumSet.of(StepKind.PLAIN))) {
      assertEquals(List.of(), graph.droppedNames());
    }
  }

  /**
   * A dynamic-k model (our design) reports each dynamic selection's mean K, in [1, K_max], and the
   * plain and the XLA-compiled step, fed the same batch and seed, report the same.
   */
  @Test
  void aDynamicKStepReportsTheMeanKOfEachDynamicSelection() {
    ModelConfig c = new ModelConfig(32, 16, 1, 4, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0, AttentionK.ceil()),
        new SigmaMoeConfig(4, 6, 3, 0, 1e-3, AttentionK.budget(2)), 0, 0.7);
    int[] tokens = new java.util.Random(7).ints(2 * (c.context() + 1), 0, c.vocabSize()).toArray();
    double[][] meanK = new double[2][];
    StepKind[] kinds = {StepKind.PLAIN, StepKind.XLA};
    for (int i = 0; i < kinds.length; i++) {
      try (TrainingGraph graph = new TrainingGraph(c, SETTINGS, EnumSet.of(kinds[i]))) {
        assertEquals(java.util.List.of(new MeanKSite("layers/0/attention/sel_v", 2), new MeanKSite("layers/0/attention/sel_o", 2),
            new MeanKSite("layers/0/ff/sel", 3)), graph.meanKSites());
        meanK[i] = graph.step(tokens, 0, 1, 1e-3, false).meanK();
        // The evaluation's usage counters count the K each token used, not all K_max slots.
        java.util.List<io.switchhead.graph.layers.ExpertCounts> counts = graph.emptyExpertCounts();
        graph.evaluationLossSum(tokens, counts);
        int evaluated = 2 * c.context();
        for (io.switchhead.graph.layers.ExpertCounts count : counts) {
          long total = count.total(0);
          assertTrue(total >= evaluated && total <= (long) evaluated * count.selection().k(), count.name() + ": " + total);
        }
      }
    }
    int[] kMax = {2, 2, 3};
    for (int j = 0; j < 3; j++) {
      assertTrue(meanK[0][j] >= 1 && meanK[0][j] <= kMax[j], "plain mean K " + meanK[0][j]);
      assertEquals(meanK[0][j], meanK[1][j], 1e-6, "XLA against plain, selection " + j);
    }
  }

  /** A failure that is not the finite guard's (a token id past the vocabulary) is not called non-finite. */
  @Test
  void anotherInvalidArgumentIsNotMistakenForANonFiniteLoss() {
    try (TrainingGraph graph = new TrainingGraph(TINY, SETTINGS, EnumSet.of(StepKind.PLAIN))) {
      int[] tokens = new int[2 * (TINY.context() + 1)];
      tokens[3] = TINY.vocabSize() + 5;
      assertThrows(TFInvalidArgumentException.class, () -> graph.step(tokens, 0, 1, 1e-3, true));
    }
  }
}
