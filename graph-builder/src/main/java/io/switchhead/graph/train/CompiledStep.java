package io.switchhead.graph.train;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSet;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.layers.ExpertUsage;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.model.ForwardGraph;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.gradients.Gradients;
import io.switchhead.ops.xla.XlaCompiledCall;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Operand;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TFloating;

/**
 * The forward and backward pass as one must-compile XLA function: the model is built inside the
 * function over parameter values passed in as arguments (with the static-shape expert layouts XLA
 * needs), and the function returns the losses, one gradient per parameter, the usage entropies, the
 * dropped shares of the selections with a capacity, (XL) the next memories and the tracked buffers'
 * targets. Its signature's names are private to this class.
 */
final class CompiledStep {

  /** The step's outputs in the graph, and what the compiled function takes and returns. */
  record Called(Backward backward, CompiledStepSignature signature) {}

  /** A numbered signature name, {@code param_3}: its prefix and the number. */
  private static final Pattern NUMBERED = Pattern.compile("(.+)_([0-9]+)");

  /** The numbered prefixes whose number is a parameter's index, so the slot names its path. */
  private static final ImmutableSet<String> PER_PARAMETER = ImmutableSet.of("param", "grad", "rows");

  /** What a prefix holds, where the signature's short name is not the word. */
  private static final ImmutableMap<String, String> WHAT = ImmutableMap.of("param", "parameter", "grad", "gradient");

  private CompiledStep() {}

  /**
   * Calls the compiled step on the graph's values.
   *
   * @param params the graph's parameters, in the store's order
   * @param memories the current XL memories (empty without memory)
   */
  @SuppressWarnings("unchecked")
  static Called call(Ops tf, ModelConfig config, int batch, Operand<TInt32> inputs, Operand<TInt32> targets,
      Operand<TInt64> stepSeed, List<ParamStore.Param> params,
      List<Operand<TFloat32>> memories, int usages, int capacities, int bufferUpdates, Set<Integer> sparse, int meanKs) {
    ConcreteFunction step = define(config, batch, memories.size(), sparse);
    Map<String, Operand<?>> args = new LinkedHashMap<>();
    args.put("inputs", inputs);
    args.put("targets", targets);
    args.put("seed", stepSeed);
    for (int i = 0; i < params.size(); i++) {
      args.put(paramName(i), params.get(i).value());
    }
    for (int i = 0; i < memories.size(); i++) {
      args.put("memory_" + i, memories.get(i));
    }
    Map<String, Operand<?>> out = XlaCompiledCall.call(tf, step, args);
    ImmutableMap.Builder<Integer, Operand<TInt32>> rows = ImmutableMap.builder();
    for (int i : sparse) {
      rows.put(i, (Operand<TInt32>) (Operand<?>) out.get("rows_" + i));
    }
    Backward backward = new Backward(output(out, "loss"), output(out, "lm_loss"), numbered(out, "grad_", params.size()),
        numbered(out, "usage_", usages), numbered(out, "dropped_", capacities), numbered(out, "next_memory_", memories.size()),
        numbered(out, "buffer_target_", bufferUpdates), rows.buildOrThrow(), numbered(out, "mean_k_", meanKs));
    List<String> paths = params.stream().map(p -> p.spec().path()).toList();
    Signature signature = step.signature();
    // The same Signature orders the call's inputs (XlaCompiledCall) and the function's arguments.
    return new Called(backward, new CompiledStepSignature(slots(signature.getInputs(), paths), slots(signature.getOutputs(), paths)));
  }

  private static ImmutableList<CompiledStepSignature.Slot> slots(Map<String, Signature.TensorDescription> described, List<String> paths) {
    ImmutableList.Builder<CompiledStepSignature.Slot> slots = ImmutableList.builder();
    described.forEach((name, d) -> {
      Matcher m = NUMBERED.matcher(name);
      String prefix = m.matches() ? m.group(1) : name;
      String path = m.matches() && PER_PARAMETER.contains(prefix) ? paths.get(Integer.parseInt(m.group(2))) : "";
      slots.add(new CompiledStepSignature.Slot(name, WHAT.getOrDefault(prefix, prefix), path, d.shape, d.dataType));
    });
    return slots.build();
  }

  /** @param sparse the indices of the tables read by rows: their gradients are of the rows, returned with the rows' ids */
  private static ConcreteFunction define(ModelConfig config, int batch, int memoryLayers, Set<Integer> sparse) {
    Shape window = Shape.of(batch, config.context());
    return ConcreteFunction.create(ftf -> {
      Placeholder<TInt32> fInputs = ftf.placeholder(TInt32.class, Placeholder.shape(window));
      Placeholder<TInt32> fTargets = ftf.placeholder(TInt32.class, Placeholder.shape(window));
      Placeholder<TInt64> fSeed = ftf.placeholder(TInt64.class, Placeholder.shape(Shape.of(2)));
      List<Operand<TFloat32>> fMemory = new ArrayList<>();
      for (int i = 0; i < memoryLayers; i++) {
        fMemory.add(ftf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(batch, config.context(), config.dModel()))));
      }
      ParamStore args = ParamStore.arguments(ftf);
      ForwardGraph.Output f = ForwardGraph.build(config, args, LayerContext.train(ftf, fSeed).withStaticShapes(),
          ForwardGraph.Inputs.tokens(fInputs).withTargets(fTargets).withMemories(fMemory));
      ForwardGraph.Losses losses = f.requireLosses();
      List<Operand<?>> grads = Gradients.of(ftf, losses.total(), TrainingGraph.differentiated(args));
      ImmutableMap<Integer, Operand<TInt32>> rows = TrainingGraph.sparseRows(args);
      if (!rows.keySet().equals(sparse)) {
        throw new IllegalStateException("the compiled step reads tables by rows at " + rows.keySet() + ", the graph at " + sparse);
      }
      Signature.Builder sig = Signature.builder().key("train_step").input("inputs", fInputs).input("targets", fTargets).input("seed", fSeed);
      List<ParamStore.Param> params = args.params();
      for (int i = 0; i < params.size(); i++) {
        sig.input(paramName(i), params.get(i).value());
      }
      sig.output("loss", losses.total()).output("lm_loss", losses.lm());
      for (int i = 0; i < grads.size(); i++) {
        sig.output("grad_" + i, grads.get(i));
      }
      rows.forEach((i, ids) -> sig.output("rows_" + i, ids));
      for (int i = 0; i < f.usage().size(); i++) {
        sig.output("usage_" + i, f.usage().get(i).entropy());
      }
      List<Operand<? extends TFloating>> dropped = TrainingGraph.droppedShares(f);
      for (int i = 0; i < dropped.size(); i++) {
        sig.output("dropped_" + i, dropped.get(i));
      }
      // The tracked buffers' targets (BatchNorm batch statistics): the function has no variables to move.
      List<ParamStore.BufferUpdate> updates = args.bufferUpdates();
      for (int i = 0; i < updates.size(); i++) {
        sig.output("buffer_target_" + i, updates.get(i).target());
      }
      List<ExpertUsage> dynamic = f.usage().stream().filter(ExpertUsage::dynamic).toList();
      for (int i = 0; i < dynamic.size(); i++) {
        sig.output("mean_k_" + i, dynamic.get(i).meanK(ftf));
      }
      for (int i = 0; i < fMemory.size(); i++) {
        sig.input("memory_" + i, fMemory.get(i));
        sig.output("next_memory_" + i, f.nextMemories().get(i));
      }
      return sig.build();
    });
  }

  private static String paramName(int i) {
    return "param_" + i;
  }

  private static ImmutableList<Operand<TFloat32>> numbered(Map<String, Operand<?>> out, String prefix, int count) {
    ImmutableList.Builder<Operand<TFloat32>> list = ImmutableList.builder();
    for (int i = 0; i < count; i++) {
      list.add(output(out, prefix + i));
    }
    return list.build();
  }

  @SuppressWarnings("unchecked")
  private static Operand<TFloat32> output(Map<String, Operand<?>> out, String name) {
    Operand<?> o = out.get(name);
    if (o == null) {
      throw new IllegalStateException("the compiled step has no output '" + name + "'");
    }
    return (Operand<TFloat32>) o;
  }
}
