package io.switchhead.graph.layers;

import io.switchhead.graph.params.ParamScope;
import io.switchhead.graph.params.ParamSpec;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.check.GradientChecker;
import io.switchhead.ops.check.GradientChecker.Input;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat64;

/** Runs a layer as a function of its input and all its parameters, for float64 gradient checks. */
final class LayerHarness {

  /** A layer under test: parameters from {@code p}, one input x. */
  @FunctionalInterface
  interface Layer {
    Operand<TFloat64> apply(ParamScope p, LayerContext ctx, Operand<TFloat64> x);
  }

  private LayerHarness() {}

  /** The parameters the layer creates for an input of this shape. */
  static List<ParamSpec> specs(Layer layer, Shape inputShape) {
    return built(layer, inputShape).specs();
  }

  /** The buffers (e.g. BatchNorm moving statistics) the layer reads in evaluation. */
  static List<ParamSpec> bufferSpecs(Layer layer, Shape inputShape) {
    return built(layer, inputShape).buffers().stream().map(ParamStore.Param::spec).toList();
  }

  /** A store binding each path to a float64 constant of its values and shape: a layer over fixed parameters and buffers. */
  static ParamStore constants(Ops tf, Map<String, double[]> values, Map<String, Shape> shapes) {
    Map<String, Operand<TFloat64>> bound = new HashMap<>();
    values.forEach((path, v) -> bound.put(path, tf.constant(shapes.get(path), DataBuffers.of(v))));
    return ParamStore.bound(tf, bound);
  }

  private static ParamStore built(Layer layer, Shape inputShape) {
    try (Graph g = new Graph()) {
      Ops tf = GraphOps.create(g);
      ParamStore store = ParamStore.arguments(tf);
      layer.apply(store.root().child("layer"), LayerContext.eval(tf), tf.placeholder(TFloat64.class, Placeholder.shape(inputShape)));
      return store;
    }
  }

  /** Finite differences against symbolic gradients for the input and every parameter. */
  static GradientChecker.Report check(Layer layer, Shape inputShape, Random random) {
    return check(layer, inputShape, random, LayerContext::eval);
  }

  /**
   * The same in the context {@code context} makes (e.g. a TRAIN one with a constant seed: BatchNorm
   * on the batch's statistics). Each buffer is held at fresh random values in [0.5, 1.5) (positive,
   * as a variance must be), which evaluation reads.
   */
  static GradientChecker.Report check(Layer layer, Shape inputShape, Random random, java.util.function.Function<Ops, LayerContext> context) {
    List<ParamSpec> specs = specs(layer, inputShape);
    Map<ParamSpec, double[]> buffers = new HashMap<>();
    for (ParamSpec spec : bufferSpecs(layer, inputShape)) {
      buffers.put(spec, random.doubles(spec.size()).map(u -> 0.5 + u).toArray());
    }
    List<Input> inputs = new ArrayList<>();
    inputs.add(Input.normal(random, inputShape.asArray()));
    for (ParamSpec spec : specs) {
      Input raw = Input.normal(random, spec.shape().asArray());
      double[] scaled = raw.values();
      for (int i = 0; i < scaled.length; i++) {
        scaled[i] *= 0.5;
      }
      inputs.add(new Input(spec.shape(), scaled));
    }
    return new GradientChecker().seed(random.nextLong()).maxElementsPerInput(24).check((tf, in) -> {
      Map<String, Operand<TFloat64>> values = new HashMap<>();
      for (int i = 0; i < specs.size(); i++) {
        values.put(specs.get(i).path(), in.get(i + 1));
      }
      buffers.forEach((spec, held) -> values.put(spec.path(), tf.constant(spec.shape(), DataBuffers.of(held))));
      ParamStore store = ParamStore.bound(tf, values);
      return layer.apply(store.root().child("layer"), context.apply(tf), in.get(0));
    }, inputs);
  }
}
