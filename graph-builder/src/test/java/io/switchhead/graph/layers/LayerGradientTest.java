package io.switchhead.graph.layers;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.AttentionK;
import io.switchhead.graph.config.DenseAttentionConfig;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.MhMoeConfig;
import io.switchhead.graph.config.ModelDims;
import io.switchhead.graph.config.PeerConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.ops.check.GradientChecker;
import io.switchhead.testing.Seeded;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.ndarray.Shape;

/** Finite-difference gradient checks of every layer, in float64 at tiny sizes, input and parameters. */
class LayerGradientTest {

  private static final int B = 2;
  private static final int T = 3;
  private static final int D = 6;
  @Seeded private Random random;

  static Stream<Arguments> layers() {
    return Stream.of(
        Arguments.of("switchhead-rope", attention(new SwitchHeadConfig(2, 3, 2, 4, Positional.ROPE, 0))),
        Arguments.of("switchhead-xl", attention(new SwitchHeadConfig(2, 3, 2, 4, Positional.XL, 0))),
        Arguments.of("switchhead-e1", attention(new SwitchHeadConfig(2, 1, 1, 4, Positional.ROPE, 0))),
        Arguments.of("switchhead-k-equals-e", attention(new SwitchHeadConfig(1, 3, 3, 4, Positional.ROPE, 0))),
        Arguments.of("dense-rope", (LayerHarness.Layer) (p, ctx, x) -> DenseAttention.apply(new DenseAttentionConfig(2, 4, Positional.ROPE), new ModelDims(D, 1, 0), p, ctx, AttentionInputs.self(x, T))),
        Arguments.of("dense-xl", (LayerHarness.Layer) (p, ctx, x) -> DenseAttention.apply(new DenseAttentionConfig(2, 4, Positional.XL), new ModelDims(D, 1, 0), p, ctx, AttentionInputs.self(x, T))),
        Arguments.of("sigma-moe with its entropy loss", (LayerHarness.Layer) (p, ctx, x) -> {
          var out = SigmaMoeFeedForward.apply(new SigmaMoeConfig(4, 5, 2, 0, 0.1), new ModelDims(D, 1, 0), p, ctx, x);
          return ctx.tf().math.add(out.output(), out.entropyLoss());
        }),
        Arguments.of("mh-moe top-2 with its balance loss (evaluation: dropless)", (LayerHarness.Layer) (p, ctx, x) -> {
          var out = MhMoeFeedForward.apply(new MhMoeConfig(2, 3, 2, 5, 1.0, 0.1, false), new ModelDims(D, 1, 0), p, ctx, x);
          return ctx.tf().math.add(out.output(), out.balanceLoss());
        }),
        Arguments.of("peer (moving statistics)", (LayerHarness.Layer) (p, ctx, x) -> PeerFeedForward.apply(
            new PeerConfig(16, 2, 3, 4, PeerConfig.Activation.GELU, 0.9, 1e-3), new ModelDims(D, 1, 0), p, ctx, x).output()),
        Arguments.of("switchhead-dynamic-k-ceil", attention(new SwitchHeadConfig(2, 3, 2, 4, Positional.ROPE, 0, AttentionK.ceil()))),
        Arguments.of("switchhead-dynamic-k-budget-xl", attention(new SwitchHeadConfig(2, 3, 3, 4, Positional.XL, 0, AttentionK.budget(2)))),
        Arguments.of("sigma-moe dynamic k with its entropy loss", (LayerHarness.Layer) (p, ctx, x) -> {
          // A fixed importance [B, T] (the block's attention in a model): K = 1, 2, 2 and 2, 1, 2.
          var importance = ctx.tf().constant(new double[][] {{0.3, 1, 0.8}, {1, 0.45, 0.7}});
          var out = SigmaMoeFeedForward.apply(new SigmaMoeConfig(4, 5, 2, 0, 0.1, AttentionK.ceil()), new ModelDims(D, 1, 0), p, ctx, x, importance);
          return ctx.tf().math.add(out.output(), out.entropyLoss());
        }),
        Arguments.of("dense-ff", (LayerHarness.Layer) (p, ctx, x) -> DenseFeedForward.apply(new DenseFeedForwardConfig(7), new ModelDims(D, 1, 0), p, ctx, x)),
        Arguments.of("layer-norm", (LayerHarness.Layer) (p, ctx, x) -> LayerNorm.apply(p, ctx.tf(), x, D)));
  }

  private static LayerHarness.Layer attention(SwitchHeadConfig c) {
    return (p, ctx, x) -> SwitchHeadAttention.apply(c, new ModelDims(D, 1, 0), p, ctx, AttentionInputs.self(x, T)).output();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("layers")
  void gradientsMatchFiniteDifferences(String name, LayerHarness.Layer layer) {
    GradientChecker.Report report = LayerHarness.check(layer, Shape.of(B, T, D), random);
    assertTrue(report.maxRelativeError() < 1e-5, name + ": " + report);
  }
}
