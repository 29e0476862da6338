package io.switchhead.graph.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.PeerConfig.Activation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class PeerConfigTest {

  private static final PeerConfig PEER = new PeerConfig(16, 2, 3, 4, Activation.RELU, 0.99, 1e-3);

  private static void refused(String expected, Executable make) {
    String message = assertThrows(IllegalArgumentException.class, make).getMessage();
    assertTrue(message.contains(expected), message);
  }

  @Test
  void badFieldsAreNamedWithTheirValues() {
    refused("experts (15) must be a perfect square", () -> new PeerConfig(15, 2, 3, 4, Activation.RELU, 0.99, 1e-3));
    refused("experts (0)", () -> new PeerConfig(0, 2, 3, 4, Activation.RELU, 0.99, 1e-3));
    refused("heads (0)", () -> new PeerConfig(16, 0, 3, 4, Activation.RELU, 0.99, 1e-3));
    refused("k (5) must be in [1, sqrt(experts) = 4]", () -> new PeerConfig(16, 2, 5, 4, Activation.RELU, 0.99, 1e-3));
    refused("keyDim (5)", () -> new PeerConfig(16, 2, 3, 5, Activation.RELU, 0.99, 1e-3));
    refused("batchNormMomentum (1.0)", () -> new PeerConfig(16, 2, 3, 4, Activation.RELU, 1.0, 1e-3));
    refused("batchNormEpsilon (0.0)", () -> new PeerConfig(16, 2, 3, 4, Activation.RELU, 0.99, 0));
    assertThrows(NullPointerException.class, () -> new PeerConfig(16, 2, 3, 4, null, 0.99, 1e-3));
  }

  @Test
  void aMillionExpertsHaveAThousandSubKeysPerHalf() {
    assertEquals(1024, new PeerConfig(1024 * 1024, 4, 8, 32, Activation.GELU, 0.99, 1e-3).subKeys());
    assertEquals(4, PEER.subKeys());
  }

  @Test
  void survivesAJsonRoundTripAsTypePeer() {
    ModelConfig model = new ModelConfig(256, 16, 4, 8, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0),
        new PerBlockFeedForwardConfig(PEER, new DenseFeedForwardConfig(24), 2, 4), 0, 0.7);
    String json = ConfigJson.write(model);
    assertTrue(json.contains("\"type\" : \"peer\""), json);
    assertEquals(model, ConfigJson.read(json, "peer.json"));
  }
}
