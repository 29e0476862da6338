package io.switchhead.graph.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.testing.Seeded;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

class ForwardGraphTest {

  private static final int VOCAB = 11;
  private static final int B = 2;
  private static final int T = 5;
  @Seeded private Random random;

  private static ModelConfig switchAll(Positional positional) {
    return new ModelConfig(VOCAB, 16, 2, T, new SwitchHeadConfig(2, 3, 2, 8, positional, 0), new SigmaMoeConfig(4, 6, 2, 0, 0.5), 0, 0.7);
  }

  private int[] tokens() {
    int[] t = new int[B * T];
    for (int i = 0; i < t.length; i++) {
      t[i] = random.nextInt(VOCAB);
    }
    return t;
  }

  /**
   * The LM loss is the mean token cross-entropy of the graph's own logits (checked in float64 in
   * Java), and the total adds the sigma-MoE entropy regulariser, which is not zero here.
   */
  @Test
  void theLossesAreTheCrossEntropyOfTheLogitsPlusTheAuxiliaryLoss() {
    ModelConfig c = switchAll(Positional.ROPE);
    int[] inputs = tokens();
    int[] targets = tokens();
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      ParamStore store = ParamStore.variables(tf, random.nextLong());
      ForwardGraph.Output out = ForwardGraph.build(c, store, LayerContext.eval(tf),
          ForwardGraph.Inputs.tokens(constant(tf, inputs)).withTargets(constant(tf, targets)));
      store.initialize(s);
      ForwardGraph.Losses losses = out.requireLosses();
      try (Result r = s.runner().fetch(out.logits()).fetch(losses.lm()).fetch(losses.total()).run()) {
        float[] logits = Tensors.toFloats(r.get(0));
        double expected = 0;
        for (int n = 0; n < B * T; n++) {
          double max = Double.NEGATIVE_INFINITY;
          for (int v = 0; v < VOCAB; v++) {
            max = Math.max(max, logits[n * VOCAB + v]);
          }
          double sum = 0;
          for (int v = 0; v < VOCAB; v++) {
            sum += Math.exp(logits[n * VOCAB + v] - max);
          }
          expected += max + Math.log(sum) - logits[n * VOCAB + targets[n]];
        }
        expected /= B * T;
        double lm = ((TFloat32) r.get(1)).getFloat();
        double total = ((TFloat32) r.get(2)).getFloat();
        assertEquals(expected, lm, 1e-5 * expected);
        assertTrue(Math.abs(total - lm) > 1e-6, "the entropy regulariser must be part of the total: " + total + " vs " + lm);
      }
    }
  }

  @Test
  void logitsOnlyHaveNoLossesAndSaySo() {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      ForwardGraph.Output out = ForwardGraph.build(switchAll(Positional.ROPE), ParamStore.variables(tf, 1), LayerContext.eval(tf),
          ForwardGraph.Inputs.tokens(constant(tf, tokens())));
      assertEquals(Shape.of(B, T, VOCAB), out.logits().shape());
      assertFalse(out.losses().isPresent());
      IllegalStateException e = assertThrows(IllegalStateException.class, out::requireLosses);
      assertTrue(e.getMessage().contains("without targets"), e.getMessage());
    }
  }

  @Test
  void anXlModelTakesOneMemoryPerLayerAndGivesTheNext() {
    ModelConfig c = switchAll(Positional.XL);
    assertTrue(c.hasMemory());
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      List<Operand<TFloat32>> memories = new ArrayList<>();
      for (int i = 0; i < c.layers(); i++) {
        memories.add(tf.zeros(tf.constant(new int[] {B, T, c.dModel()}), TFloat32.class));
      }
      ForwardGraph.Output out = ForwardGraph.build(c, ParamStore.variables(tf, 1), LayerContext.eval(tf),
          ForwardGraph.Inputs.tokens(constant(tf, tokens())).withMemories(memories));
      assertEquals(c.layers(), out.nextMemories().size());
      assertEquals(Shape.of(B, T, c.dModel()), out.nextMemories().get(0).shape());
    }
    ModelConfig rope = switchAll(Positional.ROPE);
    assertFalse(rope.hasMemory());
  }

  @Test
  void targetsOfTheWrongLengthAreNamed() {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ForwardGraph.build(switchAll(Positional.ROPE),
          ParamStore.variables(tf, 1), LayerContext.eval(tf),
          ForwardGraph.Inputs.tokens(constant(tf, tokens())).withTargets(tf.constant(new int[][] {{1, 2, 3}}))));
      assertTrue(e.getMessage().contains("targets [B, T]"), e.getMessage());
    }
  }

  /** [B, T] from row-major tokens. */
  private static Operand<TInt32> constant(Ops tf, int[] tokens) {
    int[][] rows = new int[B][T];
    for (int i = 0; i < tokens.length; i++) {
      rows[i / T][i % T] = tokens[i];
    }
    return tf.constant(rows);
  }
}
