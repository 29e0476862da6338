package io.switchhead.ops;

import static io.switchhead.ops.ShapeCheck.ANY;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;

class ShapeCheckTest {

  @Test
  void namesTheLayerTheInputAndBothShapes() {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      var x = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(2, 3, 5)));
      var error =
          assertThrows(IllegalArgumentException.class, () -> ShapeCheck.require("layers/3/attention", "x_q [B, T, D]", x, ANY, ANY, 7));
      assertEquals("layers/3/attention: x_q [B, T, D] must have shape [?, ?, 7], got [2, 3, 5]", error.getMessage());
      assertThrows(IllegalArgumentException.class, () -> ShapeCheck.require("l", "x", x, ANY, 5));
      assertDoesNotThrow(() -> ShapeCheck.require("l", "x", x, 2, ANY, 5));
    }
  }

  @Test
  void unknownSizesAreLeftToRunTime() {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      var x = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, 5)));
      assertDoesNotThrow(() -> ShapeCheck.require("l", "x", x, 4, 5));
      var unknownRank = tf.placeholder(TFloat32.class);
      assertDoesNotThrow(() -> ShapeCheck.require("l", "x", unknownRank, 4, 5));
    }
  }
}
