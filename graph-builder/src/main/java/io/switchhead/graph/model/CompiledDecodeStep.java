package io.switchhead.graph.model;

import io.switchhead.graph.config.FeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.moe.GatheredConditionalMatmul;
import io.switchhead.ops.moe.MoeTuning;
import io.switchhead.ops.xla.XlaCompiledCall;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Operand;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * One new token per sequence through {@link DecodeGraph}, compiled by XLA into one cluster. A
 * decoding call at small models does almost no arithmetic; run op by op, its time is the
 * executor's cost per op, some seven hundred of them at switchhead-tiny. Compiled, the call is one
 * launch. XLA compiles once per shape it meets, which is why the cache comes back at its capacity
 * ({@link DecodeGraph}): after the first call every call of a batch size has the same shapes.
 *
 * <p>Inside, the expert matmuls gather each token's chosen expert weights
 * ({@link GatheredConditionalMatmul}): static shapes, a handful of ops, and at one token per
 * sequence little to gather. Its bytes grow with the batch, so a batch past {@link #maxBatch} is
 * for the uncompiled {@code decode_step}. Parameters enter as arguments (ref variables stay outside
 * XLA clusters); the inputs are the caller's to check (XLA's Assert checks nothing).
 */
public final class CompiledDecodeStep {

  private CompiledDecodeStep() {}

  /**
   * Builds the call into the graph of {@code tf} over {@code store}'s parameters (which must all
   * exist: the model is built first).
   *
   * @param in tokens [B, 1], position, and the cache as {@link DecodeGraph.Inputs} says
   */
  public static DecodeGraph.Output call(Ops tf, ModelConfig c, ParamStore store, DecodeGraph.Inputs in) {
    List<String> paths = new ArrayList<>();
    ConcreteFunction step = ConcreteFunction.create(ftf -> {
      Placeholder<TInt32> tokens = ftf.placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, 1)));
      Placeholder<TInt32> position = ftf.placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
      Shape cache = DecodeGraph.cacheShape(c, -1, -1);
      Placeholder<TFloat32> keys = ftf.placeholder(TFloat32.class, Placeholder.shape(cache));
      Placeholder<TFloat32> values = ftf.placeholder(TFloat32.class, Placeholder.shape(cache));
      ParamStore args = ParamStore.arguments(ftf);
      DecodeGraph.Output out = DecodeGraph.build(c, args, LayerContext.decode(ftf).withDispatch(new GatheredConditionalMatmul()),
          new DecodeGraph.Inputs(tokens, position, keys, values));
      Signature.Builder sig = Signature.builder().key("decode_token")
          .input("tokens", tokens).input("position", position).input("keys", keys).input("values", values);
      // Parameters and buffers (PEER's BatchNorm statistics) alike: the model's state, passed in.
      List<ParamStore.Param> state = new ArrayList<>(args.params());
      args.buffers().stream().filter(b -> b.value() != null).forEach(state::add);
      for (int i = 0; i < state.size(); i++) {
        sig.input(paramName(i), state.get(i).value());
        paths.add(state.get(i).spec().path());
      }
      return sig.output("logits", out.logits()).output("position", out.position()).output("keys", out.keys())
          .output("values", out.values()).build();
    });
    // A variable itself rather than its read where there is one: TensorFlow dereferences it for the
    // call, and a decoding call is bound by the number of ops it runs, one read each saved.
    Map<String, Operand<?>> values = new LinkedHashMap<>();
    store.params().forEach(p -> values.put(p.spec().path(), p.variable() != null ? p.variable() : p.value()));
    store.buffers().forEach(b -> values.put(b.spec().path(), b.variable() != null ? b.variable() : b.value()));
    Map<String, Operand<?>> args = new LinkedHashMap<>();
    args.put("tokens", in.tokens());
    args.put("position", in.position());
    args.put("keys", in.keys());
    args.put("values", in.values());
    for (int i = 0; i < paths.size(); i++) {
      Operand<?> value = values.get(paths.get(i));
      if (value == null) {
        throw new IllegalArgumentException("the compiled decoding step needs '" + paths.get(i) + "', which the store lacks");
      }
      args.put(paramName(i), value);
    }
    Map<String, Operand<?>> out = XlaCompiledCall.call(tf, step, args);
    return new DecodeGraph.Output(cast(out.get("logits"), TFloat32.class), cast(out.get("position"), TInt32.class),
        cast(out.get("keys"), TFloat32.class), cast(out.get("values"), TFloat32.class));
  }

  /**
   * The largest batch whose gathered expert weights stay within {@link
   * MoeTuning#GATHERED_WEIGHTS_MAX_BYTES} in every expert matmul of the model, at one token per
   * sequence; at least 1.
   */
  public static int maxBatch(ModelConfig c) {
    long perToken = 0;
    if (c.attention() instanceof SwitchHeadConfig s) {
      perToken = 4L * s.heads() * s.k() * c.dModel() * s.headDim();
    }
    for (int i = 0; i < c.layers(); i++) {
      FeedForwardConfig ff = c.feedForward().forBlock(i);
      if (ff instanceof SigmaMoeConfig m) {
        perToken = Math.max(perToken, 4L * m.k() * c.dModel() * m.expertSize());
      }
    }
    return perToken == 0 ? Integer.MAX_VALUE : (int) Math.max(1, Math.min(Integer.MAX_VALUE, MoeTuning.GATHERED_WEIGHTS_MAX_BYTES / perToken));
  }

  private static String paramName(int i) {
    return "param_" + i;
  }

  private static <T extends org.tensorflow.types.family.TType> Operand<T> cast(Operand<?> o, Class<T> type) {
    return o.asOutput().expect(type);
  }
}
