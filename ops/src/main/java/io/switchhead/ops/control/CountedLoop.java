package io.switchhead.ops.control;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import com.google.common.hash.Hashing;
import io.switchhead.ops.AttrRecord;
import io.switchhead.ops.MatmulMacs;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.GraphOperationBuilder;
import org.tensorflow.Operand;
import org.tensorflow.OperationBuilder;
import org.tensorflow.Output;
import org.tensorflow.Signature;
import org.tensorflow.exceptions.TFInvalidArgumentException;
import org.tensorflow.internal.c_api.TF_OperationDescription;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TType;

/**
 * {@code for (i = 0; i < count; i++) carried = body(i, invariants, carried)} as one {@code
 * StatelessWhile} op, with a trip count known only when the graph runs. XLA compiles it to a while
 * loop whose buffers are updated in place, which is how the sorted conditional matmul skips the
 * blocks that a routing leaves empty.
 *
 * <p>Two steps, because of a TensorFlow Java 1.1.0 trap: a function-valued attribute set with
 * {@code OperationBuilder.setAttr(String, ConcreteFunction)} first copies the function into the
 * graph, under the graph lock that TensorFlow holds while it builds gradients, so building a loop
 * inside a gradient hangs. {@link #define} builds the condition and body functions and copies them
 * into the graph (call it while building the forward graph); {@link #call} emits the loop op naming
 * them, without copying, so it may run inside a gradient too.
 */
public final class CountedLoop {

  /** The loop body: new values of the carried tensors, same types and shapes, in order. */
  @FunctionalInterface
  public interface Body {
    List<Operand<?>> apply(Ops tf, Operand<TInt32> i, List<Operand<?>> invariants, List<Operand<?>> carried);
  }

  /** A tensor's type and static shape: the loop's functions declare each argument with one. */
  public record Spec(Class<? extends TType> type, Shape shape) {

    @Override
    public String toString() {
      return type.getSimpleName() + shape;
    }

    public Spec {
      checkArgument(!shape.isUnknown() && !shape.hasUnknownDimension(), "loop tensors need static shapes, got %s", shape);
    }

    public static Spec of(Operand<?> operand) {
      return new Spec(operand.type(), operand.shape());
    }
  }

  /**
   * A loop's functions, copied into a graph; the names are what {@link #call} needs, so they can
   * travel in a node's string attribute, as an {@link AttrRecord} of their own or nested in a
   * gradient's.
   */
  public record Definition(String condition, String body, int invariants, int carried, long macsPerTrip) {

    public AttrRecord toRecord() {
      return AttrRecord.builder()
          .putString("condition", condition)
          .putString("body", body)
          .putInt("invariants", invariants)
          .putInt("carried", carried)
          .putLong("macsPerTrip", macsPerTrip)
          .build();
    }

    public static Definition fromRecord(AttrRecord r) {
      return new Definition(r.getString("condition"), r.getString("body"), r.getInt("invariants"), r.getInt("carried"), r.getLong("macsPerTrip"));
    }

    /** The definition alone as an attribute string: {@link #toRecord} encoded. */
    public String encode() {
      return toRecord().encode();
    }

    public static Definition decode(String encoded) {
      return fromRecord(AttrRecord.decode("loop definition", encoded));
    }
  }

  /** Attributes of the loop op, read by {@link #worstCaseMacs}. */
  static final String MAX_TRIPS_ATTR = "_switchhead_loop_max_trips";

  static final String MACS_PER_TRIP_ATTR = "_switchhead_loop_macs_per_trip";

  private CountedLoop() {}

  /**
   * Builds the loop's functions and copies them into the graph of {@code tf}. Not inside a gradient
   * (see the class comment).
   */
  public static Definition define(Ops tf, String name, List<Spec> invariants, List<Spec> carried, Body body) {
    checkArgument(tf.scope().env() instanceof Graph, "loops are built in a Graph");
    Graph graph = (Graph) tf.scope().env();
    // TensorFlow names a function by its key and a hash of its nodes, which leaves out the argument
    // shapes: two conditions that differ only in shapes would share a name. The key carries them.
    String key = name + "_" + Hashing.murmur3_32_fixed().hashUnencodedChars(invariants + "|" + carried);
    long[] macs = new long[1];
    try (ConcreteFunction condition = ConcreteFunction.create(ops -> condition(ops, key, invariants, carried));
        ConcreteFunction step =
            ConcreteFunction.create(
                ops -> {
                  Signature signature = body(ops, key, invariants, carried, body);
                  macs[0] = MatmulMacs.count(((Graph) ops.scope().env()).operations());
                  return signature;
                })) {
      graph.attachFunction(condition);
      graph.attachFunction(step);
      return new Definition(condition.getDefinedName(), step.getDefinedName(), invariants.size(), carried.size(), macs[0]);
    }
  }

  /** A loop op's body MACs times its largest trip count; 0 for any other op. */
  public static long worstCaseMacs(GraphOperation op) {
    if (!op.type().equals("StatelessWhile")) {
      return 0;
    }
    try {
      return op.attributes().getAttrInt(MAX_TRIPS_ATTR) * op.attributes().getAttrInt(MACS_PER_TRIP_ATTR);
    } catch (TFInvalidArgumentException notACountedLoop) {
      // TensorFlow Java has no "has attribute": a missing one throws.
      return 0;
    }
  }

  /**
   * Runs a defined loop {@code count} times; returns the carried tensors' final values. {@code
   * maxCount} bounds the count, for the accounting ({@link #worstCaseMacs}); it is not checked.
   */
  public static List<Output<?>> call(
      Ops tf,
      Definition loop,
      Operand<TInt32> count,
      int maxCount,
      List<? extends Operand<?>> invariants,
      List<? extends Operand<?>> initial) {
    checkArgument(invariants.size() == loop.invariants(), "loop takes %s invariants, got %s", loop.invariants(), invariants.size());
    checkArgument(initial.size() == loop.carried(), "loop carries %s tensors, got %s", loop.carried(), initial.size());
    List<Output<?>> inputs = new ArrayList<>();
    inputs.add(tf.constant(0).asOutput());
    inputs.add(count.asOutput());
    invariants.forEach(t -> inputs.add(t.asOutput()));
    initial.forEach(t -> inputs.add(t.asOutput()));
    OperationBuilder builder = tf.scope().opBuilder("StatelessWhile", "CountedLoop");
    builder.addInputList(inputs.toArray(new Output<?>[0]));
    FunctionAttribute.set(builder, "cond", loop.condition());
    FunctionAttribute.set(builder, "body", loop.body());
    builder.setAttr(MAX_TRIPS_ATTR, maxCount);
    builder.setAttr(MACS_PER_TRIP_ATTR, loop.macsPerTrip());
    var op = builder.build();
    List<Output<?>> carriedOut = new ArrayList<>();
    for (int j = 0; j < loop.carried(); j++) {
      carriedOut.add(op.output(2 + loop.invariants() + j));
    }
    return carriedOut;
  }

  private static Signature condition(Ops ops, String name, List<Spec> invariants, List<Spec> carried) {
    Signature.Builder sig = Signature.builder().key(name + "_condition");
    Arguments args = Arguments.declare(ops, sig, invariants, carried);
    Operand<TBool> more = ops.math.less(args.i(), args.count());
    return sig.output("more", more).build();
  }

  private static Signature body(Ops ops, String name, List<Spec> invariants, List<Spec> carried, Body body) {
    Signature.Builder sig = Signature.builder().key(name + "_body");
    Arguments args = Arguments.declare(ops, sig, invariants, carried);
    List<Operand<?>> next = body.apply(ops, args.i(), args.invariants(), args.carried());
    checkArgument(next.size() == carried.size(), "loop %s body returned %s tensors for %s carried", name, next.size(), carried.size());
    // Outputs in input order: the counter, the count and the invariants pass through.
    sig.output("o_i", ops.math.add(args.i(), ops.constant(1)));
    sig.output("o_count", ops.identity(args.count()));
    for (int j = 0; j < invariants.size(); j++) {
      sig.output("o_inv" + j, ops.identity(args.invariants().get(j)));
    }
    for (int j = 0; j < carried.size(); j++) {
      Operand<?> value = next.get(j);
      Spec spec = carried.get(j);
      checkArgument(
          value.type() == spec.type() && value.shape().equals(spec.shape()),
          "loop %s body: carried tensor %s must stay %s %s, got %s %s",
          name, j, spec.type().getSimpleName(), spec.shape(), value.type().getSimpleName(), value.shape());
      sig.output("o_car" + j, value);
    }
    return sig.build();
  }

  /** The functions' arguments, declared in the loop's input order. */
  private record Arguments(Operand<TInt32> i, Operand<TInt32> count, List<Operand<?>> invariants, List<Operand<?>> carried) {

    static Arguments declare(Ops ops, Signature.Builder sig, List<Spec> invariants, List<Spec> carried) {
      Operand<TInt32> i = ops.placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
      Operand<TInt32> count = ops.placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
      sig.input("i", i).input("count", count);
      List<Operand<?>> inv = declareAll(ops, sig, "inv", invariants);
      List<Operand<?>> car = declareAll(ops, sig, "car", carried);
      return new Arguments(i, count, inv, car);
    }

    @SuppressWarnings("unchecked")
    private static List<Operand<?>> declareAll(Ops ops, Signature.Builder sig, String prefix, List<Spec> specs) {
      ImmutableList.Builder<Operand<?>> out = ImmutableList.builder();
      for (int j = 0; j < specs.size(); j++) {
        Operand<?> p = ops.placeholder((Class<TType>) specs.get(j).type(), Placeholder.shape(specs.get(j).shape()));
        sig.input(prefix + j, p);
        out.add(p);
      }
      return out.build();
    }
  }

  /**
   * Sets a function-valued attribute by the function's name, without copying the function into
   * the graph (which {@code setAttr(String, ConcreteFunction)} does, and which hangs inside a
   * gradient). TensorFlow Java 1.1.0 keeps this setter private, hence reflection; {@code
   * CountedLoopTest} pins it.
   */
  private static final class FunctionAttribute {
    private static final Field HANDLE;
    private static final Method SET_BY_NAME;

    static {
      try {
        HANDLE = GraphOperationBuilder.class.getDeclaredField("unsafeNativeHandle");
        HANDLE.setAccessible(true);
        SET_BY_NAME =
            GraphOperationBuilder.class.getDeclaredMethod(
                "setAttrFunctionName", TF_OperationDescription.class, String.class, String.class);
        SET_BY_NAME.setAccessible(true);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(
            "TensorFlow Java's GraphOperationBuilder changed; CountedLoop needs its function-name setter: " + e);
      }
    }

    static void set(OperationBuilder builder, String attribute, String function) {
      checkArgument(builder instanceof GraphOperationBuilder, "loops are built in a Graph, got %s", builder.getClass());
      try {
        SET_BY_NAME.invoke(null, HANDLE.get(builder), attribute, function);
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException("could not set attribute " + attribute + " to function " + function, e);
      }
    }
  }
}
