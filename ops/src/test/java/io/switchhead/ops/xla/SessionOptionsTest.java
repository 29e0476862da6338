package io.switchhead.ops.xla;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.switchhead.ops.GraphOps;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.RewriterConfig;
import org.tensorflow.types.TFloat32;

class SessionOptionsTest {

  @Test
  void plainSessionsSkipOnlyConstantFolding() {
    RewriterConfig rewrites = SessionOptions.plain().getGraphOptions().getRewriteOptions();
    assertEquals(RewriterConfig.Toggle.OFF, rewrites.getConstantFolding());
    assertFalse(rewrites.getDisableMetaOptimizer());
    assertEquals(RewriterConfig.getDefaultInstance(), rewrites.toBuilder().clearConstantFolding().build(),
        "the other grappler passes run as TensorFlow chooses");
  }

  @Test
  void aConstantExpressionStillComputesWithoutFolding() {
    try (Graph g = new Graph(); Session s = new Session(g, SessionOptions.plain())) {
      Ops tf = GraphOps.create(g);
      Operand<TFloat32> a = tf.constant(new float[][] {{1, 2}, {3, 4}});
      Operand<TFloat32> sum = tf.math.add(tf.linalg.matMul(a, a), tf.fill(tf.constant(new int[] {2, 2}), tf.constant(1f)));
      try (TFloat32 out = (TFloat32) s.runner().fetch(sum).run().get(0)) {
        float[] got = new float[4];
        for (int i = 0; i < 4; i++) {
          got[i] = out.getFloat(i / 2, i % 2);
        }
        assertArrayEquals(new float[] {8, 11, 16, 23}, got);
      }
    }
  }
}
