package io.switchhead.ops.xla;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.gradients.Gradients;
import io.switchhead.testing.Seeded;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.nn.TopK;
import org.tensorflow.proto.RunMetadata;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.types.TFloat32;

class XlaCompiledCallTest {

  @Seeded private Random random;

  /** loss and gradients of a small routed layer: top-k (a Java gradient), gather, softmax, matmul. */
  private static Map<String, Operand<?>> routedStep(Ops tf, Operand<TFloat32> x, Operand<TFloat32> w) {
    Operand<TFloat32> scores = tf.math.sigmoid(tf.linalg.matMul(x, w)); // [N, 6]
    TopK<TFloat32, ?> top = tf.nn.topK(scores, tf.constant(2), new TopK.Options[0]);
    Operand<TFloat32> loss =
        tf.math.add(
            tf.reduceSum(tf.math.square(top.values()), tf.constant(new int[] {0, 1})),
            tf.reduceSum(tf.nn.softmax(tf.linalg.matMul(x, w)), tf.constant(new int[] {0, 1})));
    List<Operand<?>> grads = Gradients.of(tf, loss, List.of(x, w));
    return Map.of("loss", loss, "dx", grads.get(0), "dw", grads.get(1));
  }

  private TFloat32 randomTensor(long... dims) {
    Shape shape = Shape.of(dims);
    float[] v = new float[(int) shape.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) random.nextGaussian();
    }
    return Tensors.floats(shape, v);
  }

  @Test
  void compiledForwardAndBackwardEqualThePlainGraph() {
    try (ConcreteFunction step =
            ConcreteFunction.create(
                tf -> {
                  Placeholder<TFloat32> x = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(5, 4)));
                  Placeholder<TFloat32> w = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(4, 6)));
                  Map<String, Operand<?>> out = routedStep(tf, x, w);
                  return Signature.builder().key("routed_step").input("x", x).input("w", w)
                      .output("loss", out.get("loss")).output("dx", out.get("dx")).output("dw", out.get("dw")).build();
                });
        Graph graph = new Graph();
        Session session = new Session(graph);
        TFloat32 x = randomTensor(5, 4);
        TFloat32 w = randomTensor(4, 6)) {
      Ops tf = GraphOps.create(graph);
      Placeholder<TFloat32> xIn = tf.placeholder(TFloat32.class);
      Placeholder<TFloat32> wIn = tf.placeholder(TFloat32.class);
      Map<String, Operand<?>> compiled = XlaCompiledCall.call(tf, step, Map.of("x", xIn, "w", wIn));
      Map<String, Operand<?>> plain = routedStep(tf, xIn, wIn);
      try (Result r = session.runner().feed(xIn, x).feed(wIn, w)
              .fetch(compiled.get("loss")).fetch(compiled.get("dx")).fetch(compiled.get("dw"))
              .fetch(plain.get("loss")).fetch(plain.get("dx")).fetch(plain.get("dw")).run()) {
        for (int i = 0; i < 3; i++) {
          float[] a = Tensors.toFloats(r.get(i));
          float[] b = Tensors.toFloats(r.get(i + 3));
          assertArrayEquals(b, a, 1e-5f * (1 + maxAbs(b)), "output " + i);
        }
      }
    }
  }

  @Test
  void anOpXlaCannotCompileFailsLoudly() {
    try (ConcreteFunction f =
            ConcreteFunction.create(
                tf -> {
                  Placeholder<TFloat32> x = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(3)));
                  // AsString / StringLength have no XLA kernel.
                  Operand<TFloat32> len = tf.dtypes.cast(tf.strings.stringLength(tf.dtypes.asString(x)), TFloat32.class);
                  return Signature.builder().key("uncompilable").input("x", x).output("y", len).build();
                });
        Graph graph = new Graph();
        Session session = new Session(graph);
        TFloat32 x = randomTensor(3)) {
      Ops tf = GraphOps.create(graph);
      Placeholder<TFloat32> xIn = tf.placeholder(TFloat32.class);
      Operand<?> y = XlaCompiledCall.call(tf, f, Map.of("x", xIn)).get("y");
      // TensorFlow Java maps the status to TFInvalidArgumentException, an IllegalArgumentException.
      RuntimeException error =
          assertThrows(RuntimeException.class, () -> session.runner().feed(xIn, x).fetch(y).run().close());
      assertTrue(error.getMessage().contains("unsupported operations") && error.getMessage().contains("AsString"), error.getMessage());
    }
  }

  @Test
  void sessionAutoClusteringCompilesOnCpu() throws Exception {
    assertTrue(SessionOptions.cpuAutoClusteringEnabled(),
        "the test JVM must start with TF_XLA_FLAGS=--tf_xla_cpu_global_jit (set by the surefire configuration)");
    try (Graph graph = new Graph();
        Session session = new Session(graph, SessionOptions.autoClustering());
        TFloat32 x = randomTensor(8, 8)) {
      Ops tf = GraphOps.create(graph);
      Placeholder<TFloat32> xIn = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(8, 8)));
      // Auto-clustering leaves clusters under its minimum size (4 ops) alone: use a longer chain.
      Operand<TFloat32> h = tf.math.tanh(tf.linalg.matMul(tf.math.exp(xIn), xIn));
      Operand<TFloat32> y = tf.math.sigmoid(tf.math.mul(tf.math.add(h, xIn), tf.math.sin(h)));
      RunOptions options = RunOptions.newBuilder().setOutputPartitionGraphs(true).build();
      try (Result r = session.runner().feed(xIn, x).fetch(y).setOptions(options).runAndFetchMetadata()) {
        RunMetadata meta = r.getMetadata().orElseThrow();
        boolean clustered =
            meta.getPartitionGraphsList().stream()
                .flatMap(g -> g.getNodeList().stream())
                .anyMatch(n -> n.getOp().startsWith("_XlaCompile") || n.getOp().startsWith("_XlaRun"));
        assertTrue(clustered, "no XLA cluster in the partition graphs: " + meta.getPartitionGraphsList());
      }
    }
  }

  private static float maxAbs(float[] v) {
    float m = 0;
    for (float f : v) {
      m = Math.max(m, Math.abs(f));
    }
    return m;
  }
}
