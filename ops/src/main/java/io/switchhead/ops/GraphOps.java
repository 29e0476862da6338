package io.switchhead.ops;

import static com.google.common.base.Preconditions.checkArgument;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.DeviceSpec;
import org.tensorflow.ExecutionEnvironment;
import org.tensorflow.Graph;
import org.tensorflow.Operation;
import org.tensorflow.OperationBuilder;
import org.tensorflow.op.Ops;
import org.tensorflow.op.Scope;

/**
 * The project's way to start building a graph: {@code GraphOps.create(graph)} in place of {@code Ops.create(graph)}.
 *
 * <p>TensorFlow Java's own scope ({@code OpScope}) reads the name of every operation already in the graph each time
 * a sub-scope is opened, to learn which names are taken. A model opens a sub-scope per parameter path and per
 * building block, so building a graph grows with the square of its size: 2.3 s of the 47M SwitchHead forward's 2.5 s,
 * and a third of a 47M training run's start-up, went to reading names back.
 *
 * <p>The scope here keeps TensorFlow Java's naming rules ("name", then "name_1", ...; a sub-scope's ops are
 * prefixed "scope/") and the same device, control-dependency and init-scope behaviour, but learns what is taken
 * differently: each scope counts the names it gave, and an operation's full name is looked up in the graph once
 * before it is used, so an operation made elsewhere (another {@code Ops}, a gradient, an imported graph) is never
 * named twice.
 */
public final class GraphOps {
  private GraphOps() {}

  /** An {@code Ops} on {@code graph} whose ops and sub-scopes are named without rescanning the graph. */
  public static Ops create(Graph graph) {
    return Ops.create(new Source(graph, new NamingScope(graph, null, null, new HashMap<>(), List.of(), DeviceSpec.newBuilder().build(), false)));
  }

  /** TensorFlow's rule for op and scope names (node_def_util.cc), as its own NameScope checks it. */
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9.][A-Za-z0-9_.\\-]*");

  private static void checkName(String name) {
    checkArgument(name != null && NAME.matcher(name).matches(), "invalid op or scope name '%s': it must match %s", name, NAME.pattern());
  }

  /**
   * The scope. {@code ids} counts the names given so far under {@code prefix} and is shared by the scopes that differ
   * only in op name, device or control dependencies, as TensorFlow Java shares it.
   */
  private record NamingScope(Graph graph, String prefix, String opName, Map<String, Integer> ids, List<Operation> controls,
      DeviceSpec device, boolean isInit) implements Scope {

    @Override
    public ExecutionEnvironment env() {
      return graph;
    }

    @Override
    public Scope withSubScope(String childScopeName) {
      checkName(childScopeName);
      return subScope(makeUnique(opName != null ? opName : childScopeName));
    }

    private Scope subScope(String name) {
      return new NamingScope(graph, qualify(name), null, new HashMap<>(), controls, device, isInit);
    }

    @Override
    public Scope withName(String name) {
      checkName(name);
      return new NamingScope(graph, prefix, name, ids, controls, device, isInit);
    }

    @Override
    public Scope withNameAsSubScope(String defaultName) {
      // The sub-scope takes the full name an op would get here: this scope's op name if set, else the default.
      String opFullName = makeOpName(defaultName);
      return new NamingScope(graph, opFullName, null, new HashMap<>(), controls, device, isInit);
    }

    @Override
    public Scope withDevice(DeviceSpec newDevice) {
      return new NamingScope(graph, prefix, opName, ids, controls, newDevice, isInit);
    }

    @Override
    public Scope withInitScope() {
      return new NamingScope(graph, prefix, opName, ids, List.of(), device, true);
    }

    @Override
    public String makeOpName(String defaultName) {
      checkName(defaultName);
      String base = opName != null ? opName : defaultName;
      String name = qualify(makeUnique(base));
      while (graph.operation(name) != null) {
        name = qualify(makeUnique(base));
      }
      return name;
    }

    @Override
    public String makeUnique(String id) {
      int used = ids.getOrDefault(id, 0);
      ids.put(id, used + 1);
      return used == 0 ? id : id + "_" + used;
    }

    /** Nothing to refresh: every op name is checked against the graph when it is made. */
    @Override
    public void refreshNames() {}

    @Override
    public Scope withControlDependencyOps(Iterable<Operation> ops) {
      List<Operation> kept = new ArrayList<>();
      for (Operation control : ops) {
        graph.checkInput(control);
        checkArgument(!isInit || graph.isInitializer(control), "an init scope can not have the non-init control dependency %s", control.name());
        if (isInit || !graph.isInitializer(control)) {
          kept.add(control);
        }
      }
      return new NamingScope(graph, prefix, opName, ids, List.copyOf(kept), device, isInit);
    }

    @Override
    public OperationBuilder apply(OperationBuilder builder) {
      builder.setDevice(device.toString());
      for (Operation control : controls) {
        if (isInit || !graph.isInitializer(control)) {
          builder.addControlInput(control);
        }
      }
      return builder;
    }

    @Override
    public String getDeviceString() {
      return device.toString();
    }

    private String qualify(String name) {
      return prefix == null ? name : prefix + "/" + name;
    }
  }

  /**
   * What {@code Ops.create} asks for the base scope: the graph itself for everything else. Only {@code Ops.create}
   * sees it; every op and scope made afterwards names the graph as its environment.
   */
  private record Source(Graph graph, Scope baseScope) implements ExecutionEnvironment {
    @Override
    public OperationBuilder opBuilder(String type, String name, Scope scope) {
      return graph.opBuilder(type, name, scope);
    }

    @Override
    public void attachFunction(ConcreteFunction function) {
      graph.attachFunction(function);
    }

    @Override
    public void checkInput(Operation input) {
      graph.checkInput(input);
    }

    @Override
    public Types environmentType() {
      return graph.environmentType();
    }

    @Override
    public boolean isInitializer(Operation operation) {
      return graph.isInitializer(operation);
    }
  }
}
