package io.switchhead.graph.params;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.gradients.Gradients;
import io.switchhead.testing.Seeded;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

class ParamStoreTest {

  @Seeded private long seed;

  /** Builds the given parameters in order and returns their initial values by position. */
  private static List<float[]> initialValues(long seed, List<String> paths) {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      ParamStore store = ParamStore.variables(GraphOps.create(g), seed);
      List<Operand<TFloat32>> values = new ArrayList<>();
      for (String path : paths) {
        values.add(store.get(new ParamSpec(path, Shape.of(3, 4), TFloat32.class, Initializer.normal(1))));
      }
      store.initialize(s);
      List<float[]> out = new ArrayList<>();
      Session.Runner runner = s.runner();
      values.forEach(runner::fetch);
      try (Result r = runner.run()) {
        for (int i = 0; i < values.size(); i++) {
          out.add(Tensors.toFloats(r.get(i)));
        }
      }
      return out;
    }
  }

  @Test
  void variablesAreNamedByTheirPath() {
    try (Graph g = new Graph()) {
      ParamStore store = ParamStore.variables(GraphOps.create(g), seed);
      ParamScope layer = store.root().child("layers").child(3).child("attention");
      layer.param("v", Shape.of(2, 5, 3), Initializer.normal(0.1));
      layer.param("o", Shape.of(2, 3, 5), Initializer.normal(0.1));
      store.root().child("layers").child(4).child("attention").param("v", Shape.of(2, 5, 3), Initializer.zeros());
      assertEquals(
          List.of("layers/3/attention/v", "layers/3/attention/o", "layers/4/attention/v"),
          store.params().stream().map(p -> p.variable().op().name()).toList());
      assertEquals(2 * 30 + 30, store.size());
    }
  }

  @Test
  void creatingAParameterTwiceNamesThePath() {
    try (Graph g = new Graph()) {
      ParamScope scope = ParamStore.variables(GraphOps.create(g), seed).root().child("embedding");
      scope.param("w", Shape.of(4, 2), Initializer.zeros());
      var same = assertThrows(IllegalArgumentException.class, () -> scope.param("w", Shape.of(4, 2), Initializer.zeros()));
      assertTrue(same.getMessage().contains("'embedding/w' created twice"), same.getMessage());
      var conflicting = assertThrows(IllegalArgumentException.class, () -> scope.param("w", Shape.of(5, 2), Initializer.zeros()));
      assertTrue(conflicting.getMessage().contains("'embedding/w'") && conflicting.getMessage().contains("[4, 2] and [5, 2]"),
          conflicting.getMessage());
    }
  }

  @Test
  void badPathsShapesAndLateCreationAreClearErrors() {
    try (Graph g = new Graph()) {
      ParamStore store = ParamStore.variables(GraphOps.create(g), seed);
      var badPart = assertThrows(IllegalArgumentException.class, () -> store.root().child("layers").child("a b"));
      assertTrue(badPart.getMessage().contains("'a b'"), badPart.getMessage());
      var badShape = assertThrows(IllegalArgumentException.class,
          () -> store.root().param("w", Shape.of(3, 0), Initializer.zeros()));
      assertTrue(badShape.getMessage().contains("'w'") && badShape.getMessage().contains("[3, 0]"), badShape.getMessage());
      store.freeze();
      var late = assertThrows(IllegalStateException.class, () -> store.root().param("late", Shape.of(1), Initializer.zeros()));
      assertTrue(late.getMessage().contains("'late'"), late.getMessage());
    }
  }

  /** A table read in pieces is one read: its ids in order, one rows tensor per piece; misuse names the table. */
  @Test
  void aTableReadInPiecesIsOneReadInOrder() {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      ParamStore store = ParamStore.variables(tf, seed);
      RowTable<TFloat32> table = store.root().table("t", Shape.of(5, 2), TFloat32.class, Initializer.normal(1));
      assertEquals(Shape.of(1, 2, 2), table.rows(tf.constant(new int[][] {{4, 0}})).shape(), "a piece keeps its ids' shape");
      Operand<TFloat32> second = table.rows(tf.constant(new int[] {2}));
      ParamStore.RowRead read = store.rowReads().get("t");
      assertEquals(2, read.rows().size(), "one rows tensor per piece");
      try (Session s = new Session(g)) {
        store.initialize(s);
        try (Result r = s.runner().fetch(read.ids()).fetch(store.params().get(0).value()).fetch(second).run()) {
          assertArrayEquals(new int[] {4, 0, 2}, Tensors.toInts(r.get(0)));
          float[] values = Tensors.toFloats(r.get(1));
          assertArrayEquals(new float[] {values[4], values[5]}, Tensors.toFloats(r.get(2)), "the second piece is row 2");
        }
      }
      var twice = assertThrows(IllegalArgumentException.class, () -> store.root().table("t", Shape.of(5, 2), TFloat32.class, Initializer.zeros()));
      assertTrue(twice.getMessage().contains("'t'"), twice.getMessage());
      store.freeze();
      var late = assertThrows(IllegalStateException.class, () -> table.rows(tf.constant(new int[] {1})));
      assertTrue(late.getMessage().contains("table 't' read after the model was built"), late.getMessage());
    }
  }

  @Test
  void theSameSeedGivesTheSameParametersWhateverTheBuildOrder() {
    List<float[]> ab = initialValues(seed, List.of("a/w", "b/w"));
    List<float[]> ba = initialValues(seed, List.of("b/w", "a/w"));
    assertArrayEquals(ab.get(0), ba.get(1));
    assertArrayEquals(ab.get(1), ba.get(0));
    assertFalse(java.util.Arrays.equals(ab.get(0), ab.get(1)), "two paths must get different draws");
    List<float[]> other = initialValues(seed + 1, List.of("a/w", "b/w"));
    assertFalse(java.util.Arrays.equals(ab.get(0), other.get(0)), "another seed must give other values");
  }

  @Test
  void squareAndLog1pOfAParameterDifferentiate() {
    // Square or Log1p straight on a VariableV2 output segfaults TensorFlow Java 1.1.0 while building
    // gradients; the store's identity read is what this pins.
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      ParamStore store = ParamStore.variables(tf, seed);
      Operand<TFloat32> w = store.root().param("w", Shape.of(4), Initializer.constant(0.5));
      Operand<TFloat32> loss = tf.math.add(tf.reduceSum(tf.math.square(w), tf.constant(0)), tf.reduceSum(tf.math.log1p(w), tf.constant(0)));
      List<Operand<?>> grads = Gradients.of(tf, loss, store.values());
      store.initialize(s);
      try (Result r = s.runner().fetch(grads.get(0)).run()) {
        // d/dw (w^2 + log(1 + w)) = 2w + 1/(1+w) at w = 0.5
        float expected = (float) (1.0 + 1.0 / 1.5);
        assertArrayEquals(new float[] {expected, expected, expected, expected}, Tensors.toFloats(r.get(0)), 1e-6f);
      }
    }
  }

  @Test
  void argumentsBindingMakesShapedPlaceholders() {
    try (Graph g = new Graph()) {
      ParamStore store = ParamStore.arguments(GraphOps.create(g));
      Operand<TFloat32> w = store.root().child("layers").child(0).param("w", Shape.of(3, 4), Initializer.zeros());
      assertEquals("Placeholder", w.op().type());
      assertEquals(Shape.of(3, 4), w.shape());
      assertEquals(null, store.params().get(0).variable());
    }
  }

  /**
   * Every variable kind gets its value from {@link ParamStore#initialize}: parameters, buffers (both
   * kinds) and state variables (optimizer slots); a variable of the graph that the store did not
   * create is refused by name rather than left uninitialised.
   */
  @Test
  void initializeGivesEveryVariableItsValueAndRefusesOthers() {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      ParamStore store = ParamStore.variables(tf, seed);
      ParamScope layer = store.root().child("layers").child(0);
      Operand<TFloat32> w = layer.param("w", Shape.of(3, 2), Initializer.normal(1));
      Operand<TFloat32> mean = layer.buffer("mean", Shape.of(2), TFloat32.class, Initializer.constant(0.5));
      layer.trackBuffer("variance", Shape.of(2), Initializer.ones(), tf.constant(new float[] {2, 2}), 0.1);
      var slot = store.slot(store.params().get(0), "m");
      var memory = store.state("memory/train", Shape.of(2, 3), TFloat32.class);
      store.freeze();
      store.initialize(s);
      Session.Runner runner = s.runner().fetch(w).fetch(mean).fetch(store.buffers().get(1).variable()).fetch(slot).fetch(memory);
      try (Result r = runner.run()) {
        float[] first = Tensors.toFloats(r.get(0));
        assertEquals(6, first.length);
        assertFalse(Arrays.equals(new float[6], first), "the parameter has its normal draw");
        assertArrayEquals(new float[] {0.5f, 0.5f}, Tensors.toFloats(r.get(1)));
        assertArrayEquals(new float[] {1, 1}, Tensors.toFloats(r.get(2)));
        assertArrayEquals(new float[6], Tensors.toFloats(r.get(3)), "an optimizer slot starts at zero");
        assertArrayEquals(new float[6], Tensors.toFloats(r.get(4)), "a state variable starts at zero");
      }
      int variables = 0;
      for (var it = g.operations(); it.hasNext(); ) {
        variables += it.next().type().equals("VariableV2") ? 1 : 0;
      }
      assertEquals(5, variables, "the graph's variables, all read above");

      tf.withName("stray").variable(Shape.of(2), TFloat32.class);
      var refused = assertThrows(IllegalStateException.class, () -> store.initialize(s));
      assertTrue(refused.getMessage().contains("[stray]"), refused.getMessage());
    }
  }

  /** Variables of more bytes than one run feeds are initialised over several runs, each fully. */
  @Test
  void variablesBeyondOneRunsBytesAreAllInitialised() {
    long elements = VariableInits.BATCH_BYTES / Float.BYTES / 2 + 1; // two do not fit one run
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      ParamStore store = ParamStore.variables(tf, seed);
      List<Operand<TFloat32>> values = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        values.add(store.root().param("w" + i, Shape.of(elements), Initializer.constant(i + 1)));
      }
      store.initialize(s);
      Session.Runner runner = s.runner();
      values.forEach(v -> runner.fetch(tf.min(v, tf.constant(0))).fetch(tf.max(v, tf.constant(0))));
      try (Result r = runner.run()) {
        for (int i = 0; i < 3; i++) {
          assertEquals(i + 1f, Tensors.toFloats(r.get(2 * i))[0], "smallest element of w" + i);
          assertEquals(i + 1f, Tensors.toFloats(r.get(2 * i + 1))[0], "largest element of w" + i);
        }
      }
    }
  }
}
