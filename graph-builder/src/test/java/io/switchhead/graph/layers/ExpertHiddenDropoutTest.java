package io.switchhead.graph.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.switchhead.graph.config.MhMoeConfig;
import io.switchhead.graph.config.ModelDims;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.testing.Seeded;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * The block's dropout acts on an expert's hidden only where the config asks for it: with the flag
 * off (the paper's configuration, the default) a training call of the layer equals an evaluation
 * call at a dropout rate of one half; with it on the two differ.
 */
class ExpertHiddenDropoutTest {

  private static final ModelDims DIMS = new ModelDims(8, 1, 0.5);
  @Seeded private Random random;

  @Test
  void sigmaMoeDropsItsHiddenOnlyWhenAsked() {
    assertFlag((p, ctx, x) -> SigmaMoeFeedForward.apply(new SigmaMoeConfig(4, 6, 2, 0, 0, false), DIMS, p, ctx, x).output(),
        (p, ctx, x) -> SigmaMoeFeedForward.apply(new SigmaMoeConfig(4, 6, 2, 0, 0, true), DIMS, p, ctx, x).output());
  }

  @Test
  void mhMoeDropsItsHiddenOnlyWhenAsked() {
    // A capacity that holds every choice, so training and evaluation route alike.
    assertFlag((p, ctx, x) -> MhMoeFeedForward.apply(new MhMoeConfig(2, 3, 1, 6, 3.0, 0.01, false), DIMS, p, ctx, x).output(),
        (p, ctx, x) -> MhMoeFeedForward.apply(new MhMoeConfig(2, 3, 1, 6, 3.0, 0.01, true), DIMS, p, ctx, x).output());
  }

  private interface Layer {
    Operand<TFloat32> apply(io.switchhead.graph.params.ParamScope p, LayerContext ctx, Operand<TFloat32> x);
  }

  private void assertFlag(Layer off, Layer on) {
    long seed = random.nextLong();
    float[] x = new float[2 * 3 * 8];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) random.nextGaussian();
    }
    assertArrayEquals(run(off, seed, x, false), run(off, seed, x, true), 1e-6f, "flag off: training must equal evaluation");
    assertFalse(Arrays.equals(run(on, seed, x, false), run(on, seed, x, true)), "flag on: training must drop hidden units");
  }

  private static float[] run(Layer layer, long seed, float[] x, boolean training) {
    try (Graph g = new Graph();
        Session s = new Session(g);
        TFloat32 input = Tensors.floats(Shape.of(2, 3, 8), x)) {
      Ops tf = GraphOps.create(g);
      ParamStore store = ParamStore.variables(tf, seed);
      LayerContext ctx = training ? LayerContext.train(tf, tf.constant(new long[] {7, 8})) : LayerContext.eval(tf);
      Operand<TFloat32> y = layer.apply(store.root().child("layer"), ctx, tf.constant(input));
      store.initialize(s);
      try (Result r = s.runner().fetch(y).run()) {
        return Tensors.toFloats(r.get(0));
      }
    }
  }
}
