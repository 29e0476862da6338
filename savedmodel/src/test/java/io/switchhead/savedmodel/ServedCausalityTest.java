package io.switchhead.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.testing.Seeded;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.SavedModelBundle;

/**
 * Causality through the served graph, as a server runs it: changing token t changes no logits
 * before t, and does change the logits at t (so a graph that ignored its input would fail too).
 * The serving graph pads every request to the full context, so this is also what keeps the
 * padding invisible.
 */
class ServedCausalityTest {

  /** RoPE SwitchHead attention, dense feed-forward. */
  private static final ModelConfig ROPE = new ModelConfig(256, 16, 2, 12, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.1),
      new DenseFeedForwardConfig(16), 0.1, 0.7);

  /** XL attention (relative positions, its own mask) and the sigma-MoE feed-forward. */
  private static final ModelConfig XL = new ModelConfig(256, 16, 2, 12, new SwitchHeadConfig(2, 3, 2, 8, Positional.XL, 0.1),
      new SigmaMoeConfig(4, 8, 2, 0.1, 1e-3), 0.1, 0.7);

  /**
   * How far logits before t may move. Not zero: changing a token can change which tokens an expert
   * gets, so the other rows of its matmul may be summed in another order.
   */
  private static final float ROUNDING = 1e-5f;

  /** How much the logits at t must move at least: a changed token is a different embedding. */
  private static final float CHANGED = 1e-3f;

  @TempDir Path dir;
  @Seeded private Random random;

  @Test
  void aRopeModelsServedLogitsNeverSeeLaterTokens() throws Exception {
    assertCausal(ROPE);
  }

  @Test
  void anXlModelsServedLogitsNeverSeeLaterTokens() throws Exception {
    assertCausal(XL);
  }

  private void assertCausal(ModelConfig model) throws Exception {
    Path savedModel = dir.resolve("model");
    SavedModelExport.export(TrainedRun.train(model, Files.createDirectories(dir.resolve("train")), random, 2).run(),
        OptionalLong.empty(), savedModel, false, warning -> {});
    int batch = 2;
    try (SavedModelBundle bundle = SavedModelBundle.load(savedModel.toString(), ServingSignatures.TAG)) {
      // the full context, and a shorter request (more padding)
      for (int time : new int[] {model.context(), 3 + random.nextInt(model.context() - 3)}) {
        int[] tokens = random.ints((long) batch * time, 0, model.vocabSize()).toArray();
        float[] before = logits(bundle, tokens, batch, time);
        for (int t : new int[] {0, 1 + random.nextInt(time - 2), time - 1}) {
          int row = random.nextInt(batch);
          int[] changed = tokens.clone();
          changed[row * time + t] = (tokens[row * time + t] + 1 + random.nextInt(model.vocabSize() - 1)) % model.vocabSize();
          float[] after = logits(bundle, changed, batch, time);
          assertChangedOnlyFrom(before, after, batch, time, model.vocabSize(), row, t, "time " + time + ", token " + t + " of row " + row);
        }
      }
    }
  }

  private static float[] logits(SavedModelBundle bundle, int[] tokens, int batch, int time) {
    return ServedSignature.run(bundle, ServingSignatures.DEFAULT, ServingSignatures.LOGITS, tokens, batch, time);
  }

  /** Row {@code row}'s logits before {@code t} and every other row's are unchanged; those at {@code t} changed. */
  private static void assertChangedOnlyFrom(float[] before, float[] after, int batch, int time, int vocab, int row, int t, String what) {
    assertEquals(before.length, after.length, what);
    float movedAtT = 0;
    for (int b = 0; b < batch; b++) {
      for (int p = 0; p < time; p++) {
        for (int i = 0; i < vocab; i++) {
          int at = (b * time + p) * vocab + i;
          if (b != row || p < t) {
            assertEquals(before[at], after[at], ROUNDING * Math.max(1, Math.abs(before[at])),
                what + ": the logit of row " + b + ", position " + p + ", token " + i + " changed");
          } else if (p == t) {
            movedAtT = Math.max(movedAtT, Math.abs(after[at] - before[at]));
          }
        }
      }
    }
    assertTrue(movedAtT > CHANGED, what + ": the logits at the changed position moved by at most " + movedAtT);
  }
}
