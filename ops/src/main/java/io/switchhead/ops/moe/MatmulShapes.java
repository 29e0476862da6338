package io.switchhead.ops.moe;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.ops.AttrRecord;
import java.util.Arrays;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TInt32;

/**
 * The static sizes of one conditional matmul, read from its operands at build time.
 *
 * <p>Glossary: N rows of X, dIn input and dOut output features, M experts (W holds one [dIn, dOut]
 * matrix per expert), k expert slots per row. Every size must be known when the graph is built: the
 * sorted layout's buffer sizes are computed from them, and XLA needs static shapes anyway.
 */
public record MatmulShapes(int rows, int dIn, int dOut, int experts, int k) {

  public MatmulShapes {
    checkArgument(rows >= 1, "rows N must be >= 1, got %s", rows);
    checkArgument(dIn >= 1, "dIn must be >= 1, got %s", dIn);
    checkArgument(dOut >= 1, "dOut must be >= 1, got %s", dOut);
    checkArgument(experts >= 1, "experts M must be >= 1, got %s", experts);
    checkArgument(k >= 1, "slots k must be >= 1, got %s", k);
    // Routing keys are expert * (N*k) + pair in int32; they must not overflow.
    checkArgument(
        (long) experts * rows * k < Integer.MAX_VALUE,
        "experts M * rows N * slots k (%s * %s * %s) must fit in int32",
        experts,
        rows,
        k);
  }

  /** Number of (row, slot) pairs, N*k. */
  public int pairs() {
    return rows * k;
  }

  /**
   * Reads and cross-checks the shapes of the four operands.
   *
   * @param where the caller, named in every message, e.g. {@code "sorted conditional matmul"}
   * @throws IllegalArgumentException naming the argument, the expected and the actual shape
   */
  public static MatmulShapes of(
      String where, Operand<?> x, Operand<?> w, Operand<TInt32> ids, Operand<?> gates) {
    long[] xs = staticDims(where, "x [N, dIn]", x, 2);
    long[] ws = staticDims(where, "w [M, dIn, dOut]", w, 3);
    long[] is = staticDims(where, "ids [N, k]", ids, 2);
    long[] gs = staticDims(where, "gates [N, k]", gates, 2);
    checkArgument(
        ws[1] == xs[1],
        "%s: w [M, dIn, dOut] must have dIn = %s (x's last dimension), got shape %s",
        where,
        xs[1],
        Arrays.toString(ws));
    checkArgument(
        is[0] == xs[0],
        "%s: ids [N, k] must have N = %s rows (as x), got shape %s",
        where,
        xs[0],
        Arrays.toString(is));
    checkArgument(
        Arrays.equals(gs, is),
        "%s: gates [N, k] must have the shape of ids %s, got %s",
        where,
        Arrays.toString(is),
        Arrays.toString(gs));
    checkArgument(
        x.type().equals(w.type()) && x.type().equals(gates.type()),
        "%s: x, w and gates must have one type, got %s, %s, %s",
        where,
        x.type().getSimpleName(),
        w.type().getSimpleName(),
        gates.type().getSimpleName());
    return new MatmulShapes(
        Math.toIntExact(xs[0]),
        Math.toIntExact(xs[1]),
        Math.toIntExact(ws[2]),
        Math.toIntExact(ws[0]),
        Math.toIntExact(is[1]));
  }

  /** The sizes as the fields of a gradient's configuration ({@link AttrRecord}). */
  AttrRecord toRecord() {
    return AttrRecord.builder().putInt("rows", rows).putInt("dIn", dIn).putInt("dOut", dOut).putInt("experts", experts).putInt("k", k).build();
  }

  static MatmulShapes fromRecord(AttrRecord r) {
    return new MatmulShapes(r.getInt("rows"), r.getInt("dIn"), r.getInt("dOut"), r.getInt("experts"), r.getInt("k"));
  }

  private static long[] staticDims(String where, String what, Operand<?> x, int rank) {
    Shape shape = x.shape();
    checkArgument(
        !shape.isUnknown() && shape.numDimensions() == rank && !shape.hasUnknownDimension(),
        "%s: %s must have a static rank-%s shape, got %s",
        where,
        what,
        rank,
        shape);
    return shape.asArray();
  }
}
