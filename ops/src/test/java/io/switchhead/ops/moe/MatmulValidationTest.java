package io.switchhead.ops.moe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.GraphOps;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;

/** Build-time shape errors name the argument and both shapes; bad ids fail at run time. */
class MatmulValidationTest {

  private static Operand<TFloat32> f32(Ops tf, long... dims) {
    return tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(dims)));
  }

  private static Operand<TInt32> i32(Ops tf, long... dims) {
    return tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(dims)));
  }

  private static String error(Ops tf, ConditionalMatmul impl, Operand<TFloat32> x, Operand<TFloat32> w, Operand<TInt32> ids, Operand<TFloat32> g) {
    return assertThrows(IllegalArgumentException.class, () -> impl.apply(tf, x, w, ids, g)).getMessage();
  }

  @Test
  void shapeErrorsNameTheArgumentAndTheShapes() {
    for (ConditionalMatmul impl : List.of(SortedConditionalMatmul.withDefaultBlockSize(), new DenseConditionalMatmul())) {
      try (Graph g = new Graph()) {
        Ops tf = GraphOps.create(g);
        String who = impl instanceof DenseConditionalMatmul ? "dense" : "sorted";
        assertEquals(
            who + " conditional matmul: w [M, dIn, dOut] must have dIn = 5 (x's last dimension), got shape [3, 4, 2]",
            error(tf, impl, f32(tf, 7, 5), f32(tf, 3, 4, 2), i32(tf, 7, 2), f32(tf, 7, 2)));
        assertEquals(
            who + " conditional matmul: ids [N, k] must have N = 7 rows (as x), got shape [6, 2]",
            error(tf, impl, f32(tf, 7, 5), f32(tf, 3, 5, 2), i32(tf, 6, 2), f32(tf, 7, 2)));
        assertEquals(
            who + " conditional matmul: gates [N, k] must have the shape of ids [7, 2], got [7, 3]",
            error(tf, impl, f32(tf, 7, 5), f32(tf, 3, 5, 2), i32(tf, 7, 2), f32(tf, 7, 3)));
        assertEquals(
            who + " conditional matmul: x [N, dIn] must have rank 2 and static sizes but N, got [7, -1]",
            error(tf, impl, f32(tf, 7, -1), f32(tf, 3, 5, 2), i32(tf, 7, 2), f32(tf, 7, 2)));
        assertEquals(
            who + " conditional matmul: w [M, dIn, dOut] must have a static rank-3 shape, got [5, 2]",
            error(tf, impl, f32(tf, 7, 5), f32(tf, 5, 2), i32(tf, 7, 2), f32(tf, 7, 2)));
      }
    }
    var block = assertThrows(IllegalArgumentException.class, () -> SortedConditionalMatmul.withBlockSize(0));
    assertEquals("blockSize must be >= 1, got OptionalInt[0]", block.getMessage());
  }

  /** Only the segmented layout takes a row count known at run time; the others say so, by name. */
  @Test
  void layoutsThatSizeByTheRowCountRefuseAnUnknownOne() {
    List<ConditionalMatmul> layouts = List.of(SortedConditionalMatmul.withDefaultBlockSize(), SpillConditionalMatmul.withDefaults(),
        new CapacityConditionalMatmul(1.0), new XlaConditionalMatmul(), new DenseConditionalMatmul());
    List<String> names = List.of("sorted", "spill", "capacity", "XLA", "dense");
    for (int i = 0; i < layouts.size(); i++) {
      try (Graph g = new Graph()) {
        Ops tf = GraphOps.create(g);
        assertEquals(
            names.get(i) + " conditional matmul needs the row count N when the graph is built (only the segmented conditional"
                + " matmul takes one known at run time), got x [-1, 5], ids [-1, 2], gates [-1, 2]",
            error(tf, layouts.get(i), f32(tf, -1, 5), f32(tf, 3, 5, 2), i32(tf, -1, 2), f32(tf, -1, 2)));
        assertTrue(error(tf, layouts.get(i), f32(tf, 7, 5), f32(tf, 3, 5, 2), i32(tf, -1, 2), f32(tf, 7, 2)).contains("got x [7, 5], ids [-1, 2]"));
      }
    }
  }

  @Test
  @SuppressWarnings("unchecked")
  void mixedTypesAreRejected() {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      Operand<TFloat32> w64 = (Operand<TFloat32>) (Operand<?>) tf.placeholder(TFloat64.class, Placeholder.shape(Shape.of(3, 5, 2)));
      String message = error(tf, SortedConditionalMatmul.withDefaultBlockSize(), f32(tf, 7, 5), w64, i32(tf, 7, 2), f32(tf, 7, 2));
      assertTrue(message.contains("TFloat32, TFloat64, TFloat32"), message);
    }
  }

  @Test
  void idsOutOfRangeFailWhenRun() {
    for (int bad : new int[] {-1, 3}) {
      for (ConditionalMatmul impl : List.of(SortedConditionalMatmul.withDefaultBlockSize(), new DenseConditionalMatmul())) {
        try (Graph g = new Graph();
            Session s = new Session(g)) {
          Ops tf = GraphOps.create(g);
          Operand<TFloat32> y =
              impl.apply(
                  tf,
                  tf.constant(new float[][] {{1, 2}, {3, 4}}),
                  tf.zeros(tf.constant(new int[] {3, 2, 2}), TFloat32.class),
                  tf.constant(new int[][] {{0}, {bad}}),
                  tf.constant(new float[][] {{1}, {1}}));
          RuntimeException e = assertThrows(RuntimeException.class, () -> s.runner().fetch(y).run().close());
          assertTrue(e.getMessage().contains("expert ids must be in [0, 3)"), e.getMessage());
        }
      }
    }
  }
}
