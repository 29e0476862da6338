package io.switchhead.tools.bench;

import com.google.common.base.Stopwatch;
import io.switchhead.ops.GraphOps;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import io.switchhead.ops.xla.SessionOptions;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * What this machine's float32 matmul reaches through TensorFlow in this process: one large square
 * MatMul (oneDNN on CPU), the ceiling a training step's achieved GFLOP/s is a fraction of.
 */
final class MatmulLimit {

  private MatmulLimit() {}

  /** Median GFLOP/s of {@code repeats} timed n x n x n matmuls, after two to warm up. */
  static double gflops(int n, int repeats) {
    try (Graph g = new Graph(); Session s = new Session(g, SessionOptions.plain())) {
      Ops tf = GraphOps.create(g);
      Operand<TFloat32> a = tf.variable(tf.random.randomStandardNormal(tf.constant(new long[] {n, n}), TFloat32.class));
      Operand<TFloat32> b = tf.variable(tf.random.randomStandardNormal(tf.constant(new long[] {n, n}), TFloat32.class));
      // A target, not a fetch: the product stays inside TensorFlow, so only the matmul is timed.
      Operand<TFloat32> product = tf.linalg.matMul(a, b);
      s.initialize();
      double[] seconds = new double[repeats];
      for (int i = -2; i < repeats; i++) {
        Stopwatch watch = Stopwatch.createStarted();
        s.runner().addTarget(product).run().close();
        if (i >= 0) {
          seconds[i] = watch.elapsed(TimeUnit.NANOSECONDS) / 1e9;
        }
      }
      Arrays.sort(seconds);
      return 2.0 * n * n * n / seconds[repeats / 2] / 1e9;
    }
  }
}
