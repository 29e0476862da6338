package io.switchhead.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.AttentionK;
import io.switchhead.graph.config.DenseAttentionConfig;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.MhMoeConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.PeerConfig;
import io.switchhead.graph.config.PerBlockFeedForwardConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.generate.TokenDecoder;
import io.switchhead.graph.model.CompiledDecodeStep;
import io.switchhead.graph.model.DecodeGraph;
import io.switchhead.ops.Tensors;
import io.switchhead.testing.Seeded;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.Result;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The compiled {@code decode_token} against {@code decode_step} on the same parameters: token by
 * token after a prompt, past the context, for RoPE and XL, SwitchHead (fixed and dynamic k) and dense
 * attention, sigma-MoE, MH-MoE, PEER and mixed feed-forwards. XLA fuses differently, so the logits agree to float32 rounding, not bits.
 */
class DecodeTokenTest {

  private static final int T = 6;
  @Seeded private Random random;

  private static List<ModelConfig> models() {
    SigmaMoeConfig moe = new SigmaMoeConfig(4, 8, 2, 0.1, 1e-3);
    DenseFeedForwardConfig dense = new DenseFeedForwardConfig(12);
    return List.of(
        new ModelConfig(64, 16, 2, T, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.1), moe, 0.1, 0.7),
        new ModelConfig(64, 16, 2, T, new SwitchHeadConfig(2, 3, 2, 8, Positional.XL, 0.1), dense, 0.1, 0.7),
        new ModelConfig(64, 16, 2, T, new DenseAttentionConfig(2, 8, Positional.XL), new PerBlockFeedForwardConfig(moe, dense, 1, 2), 0.1, 0.7),
        // Dynamic k on the attention's selections, MH-MoE in block 0 and PEER (with its BatchNorm buffers) in block 1.
        new ModelConfig(64, 16, 2, T, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.1, AttentionK.ceil()),
            new PerBlockFeedForwardConfig(new PeerConfig(16, 2, 3, 4, PeerConfig.Activation.GELU, 0.9, 1e-3),
                new MhMoeConfig(4, 2, 2, 6, 0.5, 0.01, false), 1, 2), 0.1, 0.7));
  }

  @Test
  void oneTokenAtATimeGivesWhatDecodeStepGives() {
    for (ModelConfig c : models()) {
      try (ServedModel model = ServedModel.initialised(c, random.nextLong());
          TokenDecoder compiled = model.cachedDecoder();
          TokenDecoder plain = model.uncompiledCachedDecoder()) {
        int[] prompt = random.ints(3, 0, c.vocabSize()).toArray();
        assertClose(plain.append(prompt), compiled.append(prompt), c.attention() + ": the prompt (decode_step in both)");
        for (int t = 0; t < 3 * T; t++) {
          int[] token = {random.nextInt(c.vocabSize())};
          assertClose(plain.append(token), compiled.append(token), c.attention() + ": token " + t + " after the prompt");
        }
      }
    }
  }

  @Test
  void aBatchPastTheCompiledLimitIsRefusedNamingTheOtherSignature() {
    ModelConfig c = models().get(0);
    int tooMany = CompiledDecodeStep.maxBatch(c) + 1;
    try (ServedModel model = ServedModel.initialised(c, 1);
        TInt32 tokens = Tensors.ints(Shape.of(tooMany, 1), new int[tooMany]);
        TFloat32 empty = TFloat32.tensorOf(DecodeGraph.cacheShape(c, tooMany, 0));
        TInt32 position = TInt32.scalarOf(0)) {
      RuntimeException e = assertThrows(RuntimeException.class, () -> {
        try (Result r = model.function(ServingSignatures.DECODE_TOKEN).call(Map.of(ServingSignatures.TOKENS, tokens,
            ServingSignatures.POSITION, position, ServingSignatures.CACHE_KEYS, empty, ServingSignatures.CACHE_VALUES, empty))) {
          // not reached
        }
      });
      assertTrue(e.getMessage().contains("the batch dimension must be at most " + (tooMany - 1)) && e.getMessage().contains("decode_step"),
          e.getMessage());
    }
  }

  private static void assertClose(float[] want, float[] got, String what) {
    assertEquals(want.length, got.length, what);
    for (int i = 0; i < want.length; i++) {
      assertEquals(want[i], got[i], 1e-4f * Math.max(1f, Math.abs(want[i])), what + ", logit " + i);
    }
  }
}
