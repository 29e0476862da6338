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
 * sorted layout's buffer sizes are computed from them, and XLA needs static shapes anyway. Only the
 * segmented layout of the plain graph also takes an N known only at run time ({@link #read}); a
 * gradient's attributes hold these static sizes alone.
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
   * The sizes of the operands as {@link #read} finds them: N is -1 where it is known only when the
   * graph runs (a server's batch), every other size is static.
   */
  record Dims(long rows, int dIn, int dOut, int experts, int k) {

    boolean rowsKnown() {
      return rows >= 0;
    }

    /** The static sizes; N must be known. */
    MatmulShapes known() {
      return new MatmulShapes(Math.toIntExact(rows), dIn, dOut, experts, k);
    }
  }

  /**
   * Reads and cross-checks the shapes of the four operands, all of them static.
   *
   * @param where the caller, named in every message, e.g. {@code "sorted conditional matmul"}
   * @throws IllegalArgumentException naming the argument, the expected and the actual shape; naming
   *     the layout when N is unknown, as every layout but the segmented one needs it
   */
  public static MatmulShapes of(
      String where, Operand<?> x, Operand<?> w, Operand<TInt32> ids, Operand<?> gates) {
    Dims d = read(where, x, w, ids, gates);
    checkArgument(
        d.rowsKnown(),
        "%s needs the row count N when the graph is built (only the segmented conditional matmul takes"
            + " one known at run time), got x %s, ids %s, gates %s",
        where,
        x.shape(),
        ids.shape(),
        gates.shape());
    return d.known();
  }

  /** As {@link #of}, but N (the first dimension of x, ids and gates) may be unknown. */
  static Dims read(String where, Operand<?> x, Operand<?> w, Operand<TInt32> ids, Operand<?> gates) {
    long[] xs = dimsAnyRows(where, "x [N, dIn]", x, 2);
    long[] ws = staticDims(where, "w [M, dIn, dOut]", w, 3);
    long[] is = dimsAnyRows(where, "ids [N, k]", ids, 2);
    long[] gs = dimsAnyRows(where, "gates [N, k]", gates, 2);
    checkArgument(
        ws[1] == xs[1],
        "%s: w [M, dIn, dOut] must have dIn = %s (x's last dimension), got shape %s",
        where,
        xs[1],
        Arrays.toString(ws));
    checkArgument(
        is[0] == xs[0] || is[0] < 0 || xs[0] < 0,
        "%s: ids [N, k] must have N = %s rows (as x), got shape %s",
        where,
        xs[0],
        Arrays.toString(is));
    checkArgument(
        gs[1] == is[1] && (gs[0] == is[0] || gs[0] < 0 || is[0] < 0),
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
    long rows = xs[0] >= 0 && is[0] >= 0 && gs[0] >= 0 ? xs[0] : -1;
    return new Dims(
        rows,
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

  /** The dimensions of {@code x}; only the first, N, may be unknown (-1). */
  static long[] dimsAnyRows(String where, String what, Operand<?> x, int rank) {
    Shape shape = x.shape();
    boolean ok = !shape.isUnknown() && shape.numDimensions() == rank;
    for (int i = 1; ok && i < rank; i++) {
      ok = shape.get(i) != Shape.UNKNOWN_SIZE;
    }
    checkArgument(ok, "%s: %s must have rank %s and static sizes but N, got %s", where, what, rank, shape);
    return shape.asArray();
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
