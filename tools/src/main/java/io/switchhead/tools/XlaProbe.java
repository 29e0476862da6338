package io.switchhead.tools;

import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.xla.XlaCompiledCall;
import java.util.Map;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;

/** Compiles and runs a tiny function with XLA, to report whether XLA works on this machine. */
public final class XlaProbe {

  private XlaProbe() {}

  public static String run() {
    long start = System.nanoTime();
    try (ConcreteFunction f =
            ConcreteFunction.create(
                tf -> {
                  Placeholder<TFloat32> x = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(2, 2)));
                  return Signature.builder().key("xla_probe").input("x", x)
                      .output("y", tf.math.tanh(tf.linalg.matMul(x, x))).build();
                });
        Graph g = new Graph();
        Session s = new Session(g);
        TFloat32 x = Tensors.floats(Shape.of(2, 2), new float[] {1, 2, 3, 4})) {
      Ops tf = GraphOps.create(g);
      Placeholder<TFloat32> in = tf.placeholder(TFloat32.class);
      Operand<?> y = XlaCompiledCall.call(tf, f, Map.of("x", in)).get("y");
      try (Result r = s.runner().feed(in, x).fetch(y).run()) {
        float first = Tensors.toFloats(r.get(0))[0];
        if (Math.abs(first - Math.tanh(7)) > 1e-5) {
          return "WRONG RESULT (" + first + ")";
        }
      }
      return String.format("work (compiled and ran a test function in %d ms)", (System.nanoTime() - start) / 1_000_000);
    } catch (RuntimeException e) {
      return "FAILED: " + e.getMessage();
    }
  }
}
