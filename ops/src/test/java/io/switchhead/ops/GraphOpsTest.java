package io.switchhead.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.tensorflow.DeviceSpec;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.types.TFloat32;

/** GraphOps' scope against TensorFlow Java's own: the same graph, and no name given twice. */
class GraphOpsTest {

  /** Every way the project names ops: repeats, nested and repeated sub-scopes, op names, devices, controls, init. */
  private static void build(Ops tf) {
    Operand<TFloat32> a = tf.constant(1f);
    Operand<TFloat32> b = tf.constant(2f);
    Operand<TFloat32> sum = tf.math.add(a, b);
    for (int layer = 0; layer < 3; layer++) {
      Ops block = tf.withSubScope("block");
      Operand<TFloat32> inner = block.withSubScope("inner").math.mul(sum, block.constant((float) layer));
      Operand<TFloat32> again = block.withSubScope("inner").math.mul(inner, inner);
      Ops named = block.withName("out");
      sum = named.math.add(again, sum);
      sum = named.withSubScope("ignored").math.neg(sum); // a sub-scope of a named scope takes the op's name
    }
    Ops gpu = tf.withDevice(DeviceSpec.newBuilder().deviceType(DeviceSpec.DeviceType.CPU).deviceIndex(0).build());
    Operand<TFloat32> onDevice = gpu.withSubScope("device").math.square(sum);
    Ops after = tf.withControlDependencies(List.of(tf.identity(onDevice)));
    after.withSubScope("after").math.abs(sum);
    Ops init = tf.withInitScope();
    Operand<TFloat32> initial = init.constant(3f);
    init.withControlDependencies(List.of(init.identity(initial))).withName("initialized").identity(initial);
    tf.withName("final").math.add(sum, tf.constant(4f));
  }

  private static List<NodeDef> nodes(Function<Graph, Ops> ops, List<String> initializers) {
    try (Graph g = new Graph()) {
      build(ops.apply(g));
      List<NodeDef> nodes = new ArrayList<>(g.toGraphDef().getNodeList());
      nodes.sort(Comparator.comparing(NodeDef::getName));
      g.operations().forEachRemaining(op -> {
        if (g.isInitializer(op)) {
          initializers.add(op.name());
        }
      });
      return nodes;
    }
  }

  @Test
  void buildsTheGraphTensorFlowJavasOwnScopeBuilds() {
    List<String> theirInitializers = new ArrayList<>();
    List<String> ourInitializers = new ArrayList<>();
    List<NodeDef> theirs = nodes(Ops::create, theirInitializers);
    List<NodeDef> ours = nodes(GraphOps::create, ourInitializers);
    assertEquals(theirs.stream().map(NodeDef::getName).toList(), ours.stream().map(NodeDef::getName).toList());
    assertEquals(theirs, ours, "op types, inputs, control inputs, devices and attributes");
    assertEquals(theirInitializers, ourInitializers);
    assertTrue(ours.stream().anyMatch(n -> n.getName().equals("block_2/inner_1/Mul")), "repeated sub-scopes are numbered");
    assertTrue(ours.stream().anyMatch(n -> n.getName().equals("block_1/out_1/Neg")), "a named scope's sub-scope takes the op's name");
    assertEquals(3, ourInitializers.size(), "the init scope's constant, identity and named identity: " + ourInitializers);
  }

  @Test
  void neverGivesANameThatAnotherOpsOnTheSameGraphGave() {
    try (Graph g = new Graph()) {
      Ops theirs = Ops.create(g);
      theirs.withSubScope("layer").constant(1f);
      theirs.withName("x").constant(2f);
      Set<String> names = new HashSet<>();
      for (int root = 0; root < 3; root++) {
        Ops ours = GraphOps.create(g);
        assertTrue(names.add(ours.withSubScope("layer").constant(1f).op().name()));
        assertTrue(names.add(ours.withName("x").constant(2f).op().name()));
      }
      assertEquals(Set.of("layer/Const_1", "layer/Const_2", "layer/Const_3", "x_1", "x_2", "x_3"), names);
    }
  }

  @Test
  void refusesANameTensorFlowWouldRefuseNamingIt() {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tf.withSubScope("layers/0"));
      assertTrue(e.getMessage().contains("'layers/0'"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> tf.withName("_hidden"));
      Operand<TFloat32> plain = tf.constant(1f);
      IllegalArgumentException control = assertThrows(IllegalArgumentException.class,
          () -> tf.withInitScope().withControlDependencies(List.of(plain)));
      assertTrue(control.getMessage().contains(plain.op().name()), control.getMessage());
    }
  }
}
