package io.switchhead.ops.moe;

import java.util.Random;
import java.util.stream.IntStream;

/**
 * A random conditional-matmul problem: x [N, dIn], w [M, dIn, dOut], ids [N, k], gates [N, k], and
 * output weights r (the loss is sum(y * r), so every output element has its own gradient).
 */
record MatmulProblem(MatmulShapes shapes, double[] x, double[] w, int[] ids, double[] gates, double[] r, boolean slots) {

  /** How ids are drawn: all N*k of them, row-major. */
  interface Routing {
    int[] ids(Random random, int rows, int experts, int k);
  }

  /** Uniform over all experts, independently per slot (a row may repeat an expert). */
  static final Routing UNIFORM = (random, rows, m, k) -> random.ints(rows * k, 0, m).toArray();

  /** Only the even experts receive rows; odd ones get none. */
  static final Routing EVEN_ONLY = (random, rows, m, k) -> random.ints(rows * k, 0, (m + 1) / 2).map(e -> 2 * e).toArray();

  /** Every row, every slot, to one expert. */
  static Routing allTo(int expert) {
    return (random, rows, m, k) -> IntStream.generate(() -> expert).limit((long) rows * k).toArray();
  }

  /** k distinct experts per row; with k = M every row uses all experts (in a shuffled order). */
  static final Routing DISTINCT =
      (random, rows, m, k) -> {
        int[] ids = new int[rows * k];
        for (int n = 0; n < rows; n++) {
          System.arraycopy(shuffled(random, m), 0, ids, n * k, k);
        }
        return ids;
      };

  static MatmulProblem random(Random random, MatmulShapes s, Routing routing, boolean slots) {
    int[] ids = routing.ids(random, s.rows(), s.experts(), s.k());
    int outSize = slots ? s.pairs() * s.dOut() : s.rows() * s.dOut();
    return new MatmulProblem(
        s,
        normal(random, s.rows() * s.dIn()),
        normal(random, s.experts() * s.dIn() * s.dOut()),
        ids,
        // Gates like sigmoid outputs, away from zero so a gate gradient is never trivially zero.
        random.doubles(s.pairs(), 0.1, 1.0).toArray(),
        normal(random, outSize),
        slots);
  }

  private static double[] normal(Random random, int size) {
    double[] v = new double[size];
    for (int i = 0; i < size; i++) {
      v[i] = random.nextGaussian();
    }
    return v;
  }

  private static int[] shuffled(Random random, int m) {
    int[] p = new int[m];
    for (int i = 0; i < m; i++) {
      p[i] = i;
    }
    for (int i = m - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}
