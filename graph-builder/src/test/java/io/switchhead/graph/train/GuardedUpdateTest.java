package io.switchhead.graph.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.collect.ImmutableList;
import io.switchhead.graph.config.Presets;
import io.switchhead.graph.model.MemoryState;
import io.switchhead.graph.params.Initializer;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.testing.Seeded;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;

/** The global gradient norm and the clipped first AdamW step against float64 on the host. */
class GuardedUpdateTest {

  @Seeded private Random random;

  @Test
  void theNormIsTheGlobalOneAndTheStepIsClippedByIt() {
    Shape[] shapes = {Shape.of(3 + random.nextInt(4), 2 + random.nextInt(5)), Shape.of(1 + random.nextInt(9))};
    double clip = 0.5 + random.nextDouble();
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      ParamStore store = ParamStore.variables(tf, random.nextLong());
      List<Operand<TFloat32>> params = List.of(store.root().param("w", shapes[0], Initializer.normal(1)),
          store.root().param("b", shapes[1], Initializer.normal(1)));
      float[][] grads = new float[2][];
      ImmutableList.Builder<Operand<TFloat32>> gradients = ImmutableList.builder();
      double squares = 0;
      for (int i = 0; i < 2; i++) {
        grads[i] = new float[(int) shapes[i].size()];
        for (int j = 0; j < grads[i].length; j++) {
          grads[i][j] = (float) (random.nextGaussian() * (1 + i));
          squares += (double) grads[i][j] * grads[i][j];
        }
        gradients.add(tf.constant(Tensors.floats(shapes[i], grads[i])));
      }
      double norm = Math.sqrt(squares);
      assertTrue(norm > clip, "the clip must act for the test to check it: norm " + norm);
      Placeholder<TFloat32> lr = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
      Placeholder<TFloat32> b1p = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
      Placeholder<TFloat32> b2p = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
      // An epsilon of 1 makes the step depend on the gradient's size, so the clip shows in it.
      AdamW adam = new AdamW(0.9, 0.999, 1, 0);
      GuardedUpdate update = new GuardedUpdate(store, AdamW.slots(store), adam, new AdamW.StepInputs(lr, b1p, b2p), clip,
          MemoryState.create(store, Presets.get("dense-tiny"), "train", 1));
      Operand<TFloat32> loss = tf.constant(1f);
      TrainStep step = update.build(tf, "plain", new Backward(loss, tf.constant(2f), gradients.build(), ImmutableList.of(), ImmutableList.of(), ImmutableList.of()));
      store.initialize(s);
      float[][] before = new float[2][];
      try (Result r = s.runner().fetch(params.get(0)).fetch(params.get(1)).run()) {
        before[0] = Tensors.toFloats(r.get(0));
        before[1] = Tensors.toFloats(r.get(1));
      }
      double rate = 0.01;
      try (TFloat32 lrT = TFloat32.scalarOf((float) rate);
          TFloat32 b1T = TFloat32.scalarOf(0.9f);
          TFloat32 b2T = TFloat32.scalarOf(0.999f);
          Result r = step.fetch(s.runner().feed(lr, lrT).feed(b1p, b1T).feed(b2p, b2T)).addTarget(step.train()).run()) {
        assertEquals(norm, step.read(r).gradientNorm(), 1e-6 * norm, "global norm");
      }
      // The first Adam step of the clipped gradient c: m = 0.1 c, v = 0.001 c^2, step = lr_t m / (sqrt(v) + 1).
      double stepSize = rate * Math.sqrt(1 - 0.999) / (1 - 0.9);
      try (Result r = s.runner().fetch(params.get(0)).fetch(params.get(1)).run()) {
        for (int i = 0; i < 2; i++) {
          float[] after = Tensors.toFloats(r.get(i));
          for (int j = 0; j < after.length; j++) {
            double c = grads[i][j] * clip / norm;
            double expected = before[i][j] - stepSize * 0.1 * c / (Math.sqrt(0.001 * c * c) + 1);
            assertEquals(expected, after[j], 1e-6, "parameter " + i + " element " + j);
          }
        }
      }
    }
  }
}
