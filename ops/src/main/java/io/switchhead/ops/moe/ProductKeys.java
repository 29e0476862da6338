package io.switchhead.ops.moe;

import static com.google.common.base.Preconditions.checkArgument;

import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.index.Indices;
import org.tensorflow.op.Ops;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.op.nn.TopK;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;
import org.tensorflow.types.family.TType;

/**
 * Product-key retrieval (PEER, SEEDS-MOE.md steps 3-4; Lample et al.'s product keys): the exact
 * top-k of N = n^2 keys {@code [c1_a ; c2_b]} for a query {@code [q1 ; q2]}, in O(n + k^2) scores
 * per query instead of O(N). The score of key (a, b) is {@code q1 . c1_a + q2 . c2_b}; any key in
 * the overall top-k has its a in the top-k of the first half's scores and its b in the top-k of the
 * second's (otherwise k keys would beat it), so the top-k of the k^2 pairs of those is exact.
 *
 * <p>Ids are {@code a * n + b} in int32: N up to 2^31 - 1 fits (PEER's N = 1024^2 = 2^20 does).
 * The choice carries no gradient; the returned scores do (to the queries and to both sub-key
 * tables), as they are gathered from the differentiable half scores at the chosen ids.
 *
 * <p>Shapes: R query rows (tokens times heads), n sub-keys per half, d2 = d_key / 2.
 */
public final class ProductKeys {

  private static final String WHERE = "product keys";

  /**
   * @param ids [R, k] in [0, n^2), best first
   * @param scores [R, k] the chosen keys' scores, best first
   */
  public record Retrieval<T extends TFloating>(Operand<TInt32> ids, Operand<T> scores) {}

  private ProductKeys() {}

  /**
   * @param q1 [R, d2] first halves of the queries
   * @param q2 [R, d2] second halves
   * @param keys1 [n, d2] first sub-key table
   * @param keys2 [n, d2] second sub-key table
   * @param k keys per query, in [1, n]
   */
  public static <T extends TFloating> Retrieval<T> topK(Ops tf, Operand<T> q1, Operand<T> q2, Operand<T> keys1,
      Operand<T> keys2, int k) {
    Shape c1 = keys1.shape();
    checkArgument(c1.numDimensions() == 2 && !c1.hasUnknownDimension() && c1.equals(keys2.shape()),
        "%s: sub-key tables must be [n, d2] with static shapes, equal; got %s and %s", WHERE, c1, keys2.shape());
    int n = Math.toIntExact(c1.get(0));
    checkArgument(k >= 1 && k <= n, "%s: k (%s) must be in [1, n = %s]", WHERE, k, n);
    checkArgument((long) n * n <= Integer.MAX_VALUE, "%s: n^2 (%s) must fit int32 ids", WHERE, (long) n * n);
    Ops pk = tf.withSubScope("productKeys");
    Operand<T> s1 = pk.linalg.matMul(q1, keys1, MatMul.transposeB(true)); // [R, n]
    Operand<T> s2 = pk.linalg.matMul(q2, keys2, MatMul.transposeB(true)); // [R, n]
    TopK<T, TInt32> top1 = pk.nn.topK(pk.stopGradient(s1), pk.constant(k), new TopK.Options[0]); // [R, k]
    TopK<T, TInt32> top2 = pk.nn.topK(pk.stopGradient(s2), pk.constant(k), new TopK.Options[0]); // [R, k]
    Operand<T> pairs = pk.reshape(pk.math.add(pk.expandDims(top1.values(), pk.constant(2)),
        pk.expandDims(top2.values(), pk.constant(1))), pk.constant(new int[] {-1, k * k})); // [R, k*k], pair (i, j) at i*k + j
    Operand<TInt32> best = pk.nn.topK(pairs, pk.constant(k), new TopK.Options[0]).indices(); // [R, k] in [0, k*k)
    Operand<TInt32> kk = pk.constant(k);
    Operand<TInt32> a = rowGather(pk, top1.indices(), pk.math.floorDiv(best, kk), k); // [R, k] in [0, n)
    Operand<TInt32> b = rowGather(pk, top2.indices(), pk.math.floorMod(best, kk), k); // [R, k] in [0, n)
    Operand<TInt32> ids = pk.math.add(pk.math.mul(a, pk.constant(n)), b);
    Operand<T> scores = pk.math.add(rowGather(pk, s1, a, n), rowGather(pk, s2, b, n)); // [R, k]
    return new Retrieval<>(ids, scores);
  }

  /**
   * {@code out[r, j] = table[r, at[r, j]]} as a gather on the flattened table, whose gradient
   * (GatherV2's, in C++) scatters back to the table's positions.
   *
   * @param table [R, width]
   * @param at [R, k] in [0, width)
   */
  private static <U extends TType> Operand<U> rowGather(Ops tf, Operand<U> table,
      Operand<TInt32> at, int width) {
    Operand<TInt32> rows = tf.stridedSlice(tf.shape(at), Indices.at(0)); // R
    Operand<TInt32> offsets = tf.expandDims(tf.math.mul(tf.range(tf.constant(0), rows, tf.constant(1)), tf.constant(width)),
        tf.constant(1)); // [R, 1]
    Operand<U> flat = tf.reshape(table, tf.constant(new int[] {-1}));
    return tf.gather(flat, tf.math.add(at, offsets), tf.constant(0));
  }
}
