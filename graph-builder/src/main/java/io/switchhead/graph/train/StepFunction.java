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
 * The forward and backward pass as one graph function: the model is built inside the function over
 * parameter values passed in as arguments, and the function returns the losses, one gradient per
 * parameter, the usage entropies, the dropped shares of the selections with a capacity, (XL) the
 * next memories and the tracked buffers' targets. Its signature's names are private to this class.
 *
 * <p>An {@link StepKind#XLA} step calls it must-compile, with the static-shape expert layouts XLA
 * needs; a replica of a data-parallel step ({@link ReplicatedPass}) calls it on the replica's device,
 * compiled or op by op as its kind says: a function call puts the ops of the forward pass and of its
 * gradient on the call's device, where gradients built in the main graph would carry no device.
 */
final class StepFunction {

  /** A numbered signature name, {@code param_3}: its prefix and the number. */
  private static final Pattern NUMBERED = Pattern.compile("(.+)_([0-9]+)");

  /** The numbered prefixes whose number is a parameter's index, so the slot names its path. */
  private static final ImmutableSet<String> PER_PARAMETER = ImmutableSet.of("param", "grad", "rows");

  /** What a prefix holds, where the signature's short name is not the word. */
  private static final ImmutableMap<String, String> WHAT = ImmutableMap.of("param", "parameter", "grad", "gradient");

  /**
   * How many outputs of each kind the model's pass has, read off the plain forward of the same model.
   *
   * @param usages the selections (usage entropies)
   * @param capacities the selections with a capacity (dropped shares)
   * @param bufferUpdates the tracked buffers (targets)
   * @param sparse the indices of the parameters read by rows
   * @param meanKs the dynamic-k selections
   */
  record Outputs(int usages, int capacities, int bufferUpdates, ImmutableSet<Integer> sparse, int meanKs) {

    Outputs {
      sparse = ImmutableSet.copyOf(sparse);
    }
  }

  /**
   * The arguments of one call.
   *
   * @param inputs [b, T] tokens
   * @param targets [b, T] the next tokens
   * @param seed int64 [2], the step's seed
   * @param params the parameter values, in the store's order
   * @param memories the current XL memories [b, T, D] (empty without memory)
   */
  record Arguments(Operand<TInt32> inputs, Operand<TInt32> targets, Operand<TInt64> seed, List<Operand<? extends TFloating>> params,
      List<Operand<TFloat32>> memories) {

    Arguments {
      params = List.copyOf(params);
      memories = List.copyOf(memories);
    }
  }

  private StepFunction() {}

  /**
   * Calls {@code step} with {@code args}: must-compile for an XLA step, else op by op, on the device
   * of {@code tf} (if it has one).
   */
  @SuppressWarnings("unchecked")
  static Backward call(Ops tf, ConcreteFunction step, StepKind kind, Arguments args, Outputs outputs) {
    Map<String, Operand<?>> named = new LinkedHashMap<>();
    named.put("inputs", args.inputs());
    named.put("targets", args.targets());
    named.put("seed", args.seed());
    for (int i = 0; i < args.params().size(); i++) {
      named.put(paramName(i), args.params().get(i));
    }
    for (int i = 0; i < args.memories().size(); i++) {
      named.put("memory_" + i, args.memories().get(i));
    }
    Map<String, Operand<?>> out = kind.compiled() ? XlaCompiledCall.call(tf, step, named) : step.call(tf, named);
    ImmutableMap.Builder<Integer, Operand<TInt32>> rows = ImmutableMap.builder();
    for (int i : outputs.sparse()) {
      rows.put(i, (Operand<TInt32>) (Operand<?>) out.get("rows_" + i));
    }
    return new Backward(output(out, "loss"), output(out, "lm_loss"), numbered(out, "grad_", args.params().size()),
        numbered(out, "usage_", outputs.usages()), numbered(out, "dropped_", outputs.capacities()),
        numbered(out, "next_memory_", args.memories().size()), numbered(out, "buffer_target_", outputs.bufferUpdates()),
        rows.buildOrThrow(), numbered(out, "mean_k_", outputs.meanKs()));
  }

  /**
   * The function of {@code kind}'s forward and backward for batches of {@code batch} sequences:
   * segmented experts for {@link StepKind#PLAIN}, the static-shape layouts otherwise.
   *
   * @param sparse the indices of the tables read by rows: their gradients are of the rows, returned with the rows' ids
   */
  static ConcreteFunction define(ModelConfig config, int batch, int memoryLayers, Set<Integer> sparse, StepKind kind) {
    boolean staticShapes = kind != StepKind.PLAIN;
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
      LayerContext context = staticShapes ? LayerContext.train(ftf, fSeed).withStaticShapes() : LayerContext.train(ftf, fSeed);
      ForwardGraph.Output f = ForwardGraph.build(config, args, context,
          ForwardGraph.Inputs.tokens(fInputs).withTargets(fTargets).withMemories(fMemory));
      ForwardGraph.Losses losses = f.requireLosses();
      List<Operand<?>> grads = ParamGradients.of(ftf, losses.total(), args);
      ImmutableMap<Integer, Operand<TInt32>> rows = ParamGradients.sparseRows(args);
      if (!rows.keySet().equals(sparse)) {
        throw new IllegalStateException("the step function reads tables by rows at " + rows.keySet() + ", the graph at " + sparse);
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
      throw new IllegalStateException("the step function has no output '" + name + "'");
    }
    return (Operand<TFloat32>) o;
  }

  /**
   * What the function takes and returns, in the order its compiled module does (the same Signature
   * orders XlaCompiledCall's inputs and the function's arguments), each slot named by what it holds:
   * what {@code bench hlo} writes beside the module.
   *
   * @param paths the parameters' paths, in the store's order
   */
  static CompiledStepSignature signature(ConcreteFunction step, List<String> paths) {
    Signature signature = step.signature();
    return new CompiledStepSignature(slots(signature.getInputs(), paths), slots(signature.getOutputs(), paths));
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
}
