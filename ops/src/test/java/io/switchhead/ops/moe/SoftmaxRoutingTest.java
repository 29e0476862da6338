package io.switchhead.ops.moe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.testing.Seeded;
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
import org.tensorflow.types.TFloat64;

/** Softmax top-k routing and its balance loss against plain Java, with N known only at run time. */
class SoftmaxRoutingTest {

  @Seeded private Random random;

  @Test
  void idsGatesBalanceAndEntropyMatchPlainJava() {
    int n = 9;
    int d = 4;
    int e = 5;
    for (int k : new int[] {1, 3}) {
      double[] x = gaussians(n * d);
      double[] w = gaussians(e * d);
      try (Graph g = new Graph();
          Session s = new Session(g);
          TFloat64 xt = Tensors.doubles(Shape.of(n, d), x);
          TFloat64 wt = Tensors.doubles(Shape.of(e, d), w)) {
        Ops tf = GraphOps.create(g);
        Placeholder<TFloat64> xs = tf.placeholder(TFloat64.class, Placeholder.shape(Shape.of(-1, d)));
        Operand<TFloat64> ws = tf.constant(wt);
        SoftmaxRouting.Routed<TFloat32> r = SoftmaxRouting.route(tf, xs, ws, k, TFloat32.class);
        try (Result out = s.runner().feed(xs, xt).fetch(r.ids()).fetch(r.gates()).fetch(SoftmaxRouting.balanceLoss(tf, r))
            .fetch(SoftmaxRouting.usageEntropy(tf, r)).run()) {
          int[] ids = new int[n * k];
          float[] gates = new float[n * k];
          double[] meanP = new double[e];
          double[] top1 = new double[e];
          for (int row = 0; row < n; row++) {
            double[] p = new double[e];
            double z = 0;
            for (int ex = 0; ex < e; ex++) {
              for (int c = 0; c < d; c++) {
                p[ex] += x[row * d + c] * w[ex * d + c];
              }
              p[ex] = Math.exp(p[ex]);
              z += p[ex];
            }
            boolean[] used = new boolean[e];
            double sum = 0;
            for (int j = 0; j < k; j++) {
              int best = -1;
              for (int ex = 0; ex < e; ex++) {
                if (!used[ex] && (best < 0 || p[ex] > p[best])) {
                  best = ex;
                }
              }
              used[best] = true;
              ids[row * k + j] = best;
              sum += p[best] / z;
            }
            for (int j = 0; j < k; j++) {
              gates[row * k + j] = (float) (p[ids[row * k + j]] / z / (k > 1 ? sum : 1));
            }
            for (int ex = 0; ex < e; ex++) {
              meanP[ex] += p[ex] / z / n;
            }
            top1[ids[row * k]] += 1.0 / n;
          }
          double balance = 0;
          double entropy = 0;
          for (int ex = 0; ex < e; ex++) {
            balance += e * meanP[ex] * top1[ex];
            entropy -= meanP[ex] * Math.log(meanP[ex]);
          }
          assertArrayEquals(ids, Tensors.toInts(out.get(0)), "k " + k);
          assertArrayEquals(gates, Tensors.toFloats(out.get(1)), 1e-6f, "k " + k);
          assertEquals(balance, Tensors.toFloats(out.get(2))[0], 1e-5, "k " + k);
          assertEquals(entropy, Tensors.toFloats(out.get(3))[0], 1e-5, "k " + k);
        }
      }
    }
  }

  private double[] gaussians(int n) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = random.nextGaussian();
    }
    return v;
  }
}
