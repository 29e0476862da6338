package io.switchhead.graph.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;

/** AdamW's graph updates against a plain-Java AdamW on fresh random gradients. */
class AdamWTest {

  @Seeded private Random random;

  @Test
  void matchesAPlainJavaAdamWithDecoupledDecay() {
    AdamW adam = new AdamW(0.9, 0.999, 1e-8, 0.1);
    int n = 5;
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      ParamStore store = ParamStore.variables(tf, random.nextLong());
      Operand<TFloat32> w = store.root().param("w", Shape.of(n), Initializer.normal(1));
      AdamW.Slots slots = AdamW.slots(store);
      Placeholder<TFloat32> grad = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(n)));
      Placeholder<TFloat32> lr = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
      Placeholder<TFloat32> b1p = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
      Placeholder<TFloat32> b2p = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
      List<Op> updates = adam.updates(tf, store, slots, List.of(grad), new AdamW.StepInputs(lr, b1p, b2p), List.of());
      store.initialize(s);
      double[] p = new double[n];
      try (Result r = s.runner().fetch(w).run()) {
        float[] init = Tensors.toFloats(r.get(0));
        for (int i = 0; i < n; i++) {
          p[i] = init[i];
        }
      }
      double[] m = new double[n];
      double[] v = new double[n];
      for (int t = 1; t <= 4; t++) {
        float[] gv = new float[n];
        for (int i = 0; i < n; i++) {
          gv[i] = (float) random.nextGaussian();
        }
        double rate = 0.01 * t;
        try (TFloat32 gT = Tensors.floats(Shape.of(n), gv);
            TFloat32 lrT = TFloat32.scalarOf((float) rate);
            TFloat32 b1T = TFloat32.scalarOf((float) Math.pow(0.9, t));
            TFloat32 b2T = TFloat32.scalarOf((float) Math.pow(0.999, t))) {
          Session.Runner runner = s.runner().feed(grad, gT).feed(lr, lrT).feed(b1p, b1T).feed(b2p, b2T);
          updates.forEach(runner::addTarget);
          runner.run().close();
        }
        // Reference: decoupled decay, then Adam with TensorFlow's bias-corrected step size.
        double stepSize = rate * Math.sqrt(1 - Math.pow(0.999, t)) / (1 - Math.pow(0.9, t));
        for (int i = 0; i < n; i++) {
          p[i] -= rate * 0.1 * p[i];
          m[i] = 0.9 * m[i] + 0.1 * gv[i];
          v[i] = 0.999 * v[i] + 0.001 * gv[i] * gv[i];
          p[i] -= stepSize * m[i] / (Math.sqrt(v[i]) + 1e-8);
        }
      }
      try (Result r = s.runner().fetch(w).run()) {
        float[] got = Tensors.toFloats(r.get(0));
        for (int i = 0; i < n; i++) {
          assertEquals(p[i], got[i], 1e-5 * (1 + Math.abs(p[i])), "parameter " + i);
        }
      }
    }
  }
}
