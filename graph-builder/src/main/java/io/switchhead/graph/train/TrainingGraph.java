package io.switchhead.graph.train;

import com.google.common.collect.ImmutableList;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.model.LanguageModel;
import io.switchhead.graph.params.ParamSpec;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.gradients.Gradients;
import io.switchhead.ops.xla.SessionOptions;
import io.switchhead.ops.xla.XlaCompiledCall;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TFloating;

/**
 * The graph and session of one training run: parameters and AdamW slots as variables, a
 * forward+backward step (plain, XLA-compiled, or both for AUTO to time), gradient clipping, a
 * finite-gradient guard, the updates, and a forward-only evaluation over the same parameters.
 *
 * <p>Feeds per step: {@code tokens} [B, T+1] (inputs are the first T, targets the last T), the
 * learning rate, Adam's bias corrections and the step seed. The guard fails the run before any
 * variable changes if the loss or the gradient norm is not finite.
 */
public final class TrainingGraph implements AutoCloseable {

  /** Metrics of one step. */
  public record StepMetrics(double loss, double lmLoss, double gradientNorm, double[] usageEntropy) {}

  /** One forward+backward path: its loss, LM loss, gradients and expert-usage entropies. */
  private record Path(Operand<TFloat32> loss, Operand<TFloat32> lmLoss, List<Operand<TFloat32>> gradients,
      List<Operand<? extends TFloating>> usage, Operand<TFloat32> gradientNorm, Op train) {}

  private final ModelConfig config;
  private final int batch;
  private final Graph graph = new Graph();
  private final Session session;
  private final ParamStore store;
  private final Placeholder<TInt32> tokens;
  private final Placeholder<TFloat32> learningRate;
  private final Placeholder<TFloat32> beta1Power;
  private final Placeholder<TFloat32> beta2Power;
  private final Placeholder<TInt64> stepSeed;
  private final Map<Boolean, Path> paths = new HashMap<>();
  private final Operand<TFloat32> evalLossSum;
  private final Op evalStep;
  private final Op resetEvalMemory;
  private final ImmutableList<String> usageNames;
  private final AdamW optimizer;
  private boolean useXla;

  /**
   * @param xla ON or OFF builds that path; AUTO builds both (choose with {@link #useXla(boolean)})
   */
  public TrainingGraph(ModelConfig config, int batch, long seed, AdamW optimizer, double gradientClip, XlaMode xla) {
    this(config, batch, seed, optimizer, gradientClip, xla, false);
  }

  /**
   * @param staticShapesInPlainGraph run the plain graph with the block-padded expert layout XLA needs
   *     instead of the segmented one (to compare the two; the segmented one is the default)
   */
  public TrainingGraph(ModelConfig config, int batch, long seed, AdamW optimizer, double gradientClip, XlaMode xla,
      boolean staticShapesInPlainGraph) {
    this.config = config;
    this.batch = batch;
    this.optimizer = optimizer;
    Ops tf = Ops.create(graph);
    int t = config.context();
    tokens = tf.withName("tokens").placeholder(TInt32.class, Placeholder.shape(Shape.of(batch, t + 1)));
    learningRate = tf.withName("learning_rate").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
    beta1Power = tf.withName("beta1_power").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
    beta2Power = tf.withName("beta2_power").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
    stepSeed = tf.withName("step_seed").placeholder(TInt64.class, Placeholder.shape(Shape.of(2)));

    store = ParamStore.variables(tf, seed);
    Operand<TInt32> inputs = tf.slice(tokens, tf.constant(new int[] {0, 0}), tf.constant(new int[] {batch, t}));
    Operand<TInt32> targets = tf.slice(tokens, tf.constant(new int[] {0, 1}), tf.constant(new int[] {batch, t}));

    // XL models carry each layer's input of the previous chunk as memory, in state variables that
    // checkpoints save with the parameters (so a resumed run continues the same streams).
    boolean xl = config.attention().positional() == Positional.XL;
    List<Variable<TFloat32>> trainMemory = xl ? memoryVariables("train") : List.of();
    List<Variable<TFloat32>> evalMemory = xl ? memoryVariables("eval") : List.of();

    // The plain forward creates the variables; everything else reads them by path.
    LayerContext trainContext = LayerContext.train(tf, stepSeed);
    Forward plain = forward(config, store, staticShapesInPlainGraph ? trainContext.withStaticShapes() : trainContext, inputs,
        targets, reads(tf, trainMemory), tf);
    usageNames = plain.usageNames();
    AdamW.Slots slots = AdamW.slots(store);
    List<Operand<?>> values = new ArrayList<>(store.values());
    if (xla != XlaMode.ON) {
      List<Operand<TFloat32>> grads = floats(Gradients.of(tf, plain.loss(), values));
      paths.put(false, finish(tf, plain.loss(), plain.lmLoss(), grads, plain.usage(), plain.nextMemories(), trainMemory,
          slots, gradientClip, "plain"));
    }
    if (xla != XlaMode.OFF) {
      paths.put(true, compiledPath(tf, inputs, targets, trainMemory, slots, gradientClip));
    }
    useXla = xla == XlaMode.ON;

    // Evaluation: the same parameters, no dropout, summed token losses.
    Map<String, Operand<? extends TFloating>> byPath = new LinkedHashMap<>();
    store.params().forEach(p -> byPath.put(p.spec().path(), p.value()));
    Ops evalOps = tf.withSubScope("eval");
    Forward eval = forward(config, ParamStore.bound(evalOps, byPath), LayerContext.eval(evalOps), inputs, targets,
        reads(evalOps, evalMemory), evalOps);
    evalLossSum = evalOps.math.mul(eval.lmLoss(), evalOps.constant((float) batch * t));
    List<Op> evalAssigns = assigns(evalOps.withControlDependencies(List.of(evalLossSum)), evalMemory, eval.nextMemories());
    evalStep = evalOps.withControlDependencies(evalAssigns).withName("eval_step").noOp();
    List<Op> resets = new ArrayList<>();
    evalMemory.forEach(m -> resets.add(evalOps.assign(m, evalOps.zerosLike(m))));
    resetEvalMemory = evalOps.withControlDependencies(resets).withName("reset_eval_memory").noOp();
    store.freeze();

    session = new Session(graph, SessionOptions.plain());
    session.initialize();
  }

  /** Loss of a forward pass, and (XL) the memories for the next chunk. */
  private record Forward(Operand<TFloat32> loss, Operand<TFloat32> lmLoss, List<Operand<? extends TFloating>> usage,
      ImmutableList<String> usageNames, List<Operand<TFloat32>> nextMemories) {}

  private static Forward forward(ModelConfig c, ParamStore store, LayerContext ctx, Operand<TInt32> inputs,
      Operand<TInt32> targets, List<Operand<TFloat32>> memories, Ops tf) {
    LanguageModel.Output<TFloat32> out = LanguageModel.apply(c, store.root(), ctx, inputs, memories);
    Operand<TFloat32> logits = tf.reshape(out.logits(), tf.constant(new int[] {-1, c.vocabSize()}));
    Operand<TFloat32> perToken = tf.nn.sparseSoftmaxCrossEntropyWithLogits(logits, tf.reshape(targets, tf.constant(new int[] {-1}))).loss();
    Operand<TFloat32> lmLoss = tf.math.mean(perToken, tf.constant(0));
    List<Operand<? extends TFloating>> usage = new ArrayList<>();
    List<String> names = new ArrayList<>();
    out.expertUsageEntropy().forEach(u -> {
      usage.add(u.entropy());
      names.add(u.name());
    });
    return new Forward(tf.math.add(lmLoss, out.auxiliaryLoss()), lmLoss, usage, ImmutableList.copyOf(names), out.nextMemories());
  }

  private List<Variable<TFloat32>> memoryVariables(String kind) {
    List<Variable<TFloat32>> memory = new ArrayList<>();
    for (int i = 0; i < config.layers(); i++) {
      memory.add(store.state("memory/" + kind + "/" + i, Shape.of(batch, config.context(), config.dModel()), TFloat32.class));
    }
    return memory;
  }

  private static List<Operand<TFloat32>> reads(Ops tf, List<Variable<TFloat32>> variables) {
    List<Operand<TFloat32>> values = new ArrayList<>();
    variables.forEach(v -> values.add(tf.identity(v)));
    return values;
  }

  private static List<Op> assigns(Ops tf, List<Variable<TFloat32>> variables, List<Operand<TFloat32>> values) {
    List<Op> ops = new ArrayList<>();
    for (int i = 0; i < variables.size(); i++) {
      ops.add(tf.assign(variables.get(i), values.get(i)));
    }
    return ops;
  }

  /** The forward+backward as one must-compile XLA function over parameter values passed in. */
  private Path compiledPath(Ops tf, Operand<TInt32> inputs, Operand<TInt32> targets, List<Variable<TFloat32>> memory,
      AdamW.Slots slots, double clip) {
    List<ParamSpec> specs = store.specs();
    ConcreteFunction step = ConcreteFunction.create(ftf -> {
      Placeholder<TInt32> fInputs = ftf.placeholder(TInt32.class, Placeholder.shape(Shape.of(batch, config.context())));
      Placeholder<TInt32> fTargets = ftf.placeholder(TInt32.class, Placeholder.shape(Shape.of(batch, config.context())));
      Placeholder<TInt64> fSeed = ftf.placeholder(TInt64.class, Placeholder.shape(Shape.of(2)));
      List<Operand<TFloat32>> fMemory = new ArrayList<>();
      for (int i = 0; i < memory.size(); i++) {
        fMemory.add(ftf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(batch, config.context(), config.dModel()))));
      }
      ParamStore args = ParamStore.arguments(ftf);
      Forward f = forward(config, args, LayerContext.train(ftf, fSeed).withStaticShapes(), fInputs, fTargets, fMemory, ftf);
      List<Operand<?>> grads = Gradients.of(ftf, f.loss(), new ArrayList<>(args.values()));
      Signature.Builder sig = Signature.builder().key("train_step").input("inputs", fInputs).input("targets", fTargets).input("seed", fSeed);
      List<ParamStore.Param> params = args.params();
      for (int i = 0; i < params.size(); i++) {
        sig.input(argName(i), params.get(i).value());
      }
      sig.output("loss", f.loss()).output("lm_loss", f.lmLoss());
      for (int i = 0; i < grads.size(); i++) {
        sig.output("grad_" + i, grads.get(i));
      }
      for (int i = 0; i < f.usage().size(); i++) {
        sig.output("usage_" + i, f.usage().get(i));
      }
      for (int i = 0; i < fMemory.size(); i++) {
        sig.input("memory_" + i, fMemory.get(i));
        sig.output("next_memory_" + i, f.nextMemories().get(i));
      }
      return sig.build();
    });
    Map<String, Operand<?>> args = new LinkedHashMap<>();
    args.put("inputs", inputs);
    args.put("targets", targets);
    args.put("seed", stepSeed);
    List<Operand<? extends TFloating>> values = store.values();
    for (int i = 0; i < specs.size(); i++) {
      args.put(argName(i), values.get(i));
    }
    List<Operand<TFloat32>> memoryValues = reads(tf, memory);
    for (int i = 0; i < memory.size(); i++) {
      args.put("memory_" + i, memoryValues.get(i));
    }
    Map<String, Operand<?>> out = XlaCompiledCall.call(tf, step, args);
    List<Operand<TFloat32>> nextMemories = new ArrayList<>();
    for (int i = 0; i < memory.size(); i++) {
      nextMemories.add(cast(out.get("next_memory_" + i)));
    }
    List<Operand<TFloat32>> grads = new ArrayList<>();
    for (int i = 0; i < specs.size(); i++) {
      grads.add(cast(out.get("grad_" + i)));
    }
    List<Operand<? extends TFloating>> usage = new ArrayList<>();
    for (int i = 0; i < usageNames.size(); i++) {
      usage.add(cast(out.get("usage_" + i)));
    }
    return finish(tf, cast(out.get("loss")), cast(out.get("lm_loss")), grads, usage, nextMemories, memory, slots, clip, "xla");
  }

  /** Clipping, the finite guard and the updates of one path. */
  private Path finish(Ops root, Operand<TFloat32> loss, Operand<TFloat32> lmLoss, List<Operand<TFloat32>> grads,
      List<Operand<? extends TFloating>> usage, List<Operand<TFloat32>> nextMemories, List<Variable<TFloat32>> memory,
      AdamW.Slots slots, double clip, String name) {
    Ops tf = root.withSubScope("update_" + name);
    List<Operand<TFloat32>> squares = new ArrayList<>();
    for (Operand<TFloat32> g : grads) {
      squares.add(tf.reduceSum(tf.math.square(g), tf.range(tf.constant(0), tf.rank(g), tf.constant(1))));
    }
    Operand<TFloat32> norm = tf.math.sqrt(tf.math.addN(squares));
    Operand<TFloat32> clipValue = tf.constant((float) clip);
    Operand<TFloat32> scale = tf.math.div(clipValue, tf.math.maximum(norm, clipValue));
    List<Operand<TFloat32>> clipped = new ArrayList<>();
    grads.forEach(g -> clipped.add(tf.math.mul(g, scale)));
    Op finite = tf.assertThat(tf.math.logicalAnd(tf.math.isFinite(loss), tf.math.isFinite(norm)),
        List.of(tf.constant(NON_FINITE), loss, norm));
    List<Op> updates = optimizer.updates(tf, store, slots, clipped,
        new AdamW.StepInputs(learningRate, beta1Power, beta2Power), List.of(finite));
    List<Op> all = new ArrayList<>(updates);
    // Memories advance with the step, after everything that read them (the guard waits for the gradients).
    all.addAll(assigns(tf.withControlDependencies(List.of(finite)), memory, nextMemories));
    Op train = tf.withControlDependencies(all).withName("train").noOp();
    return new Path(loss, lmLoss, grads, usage, norm, train);
  }

  /** The guard's message; the Trainer recognises it in TensorFlow's error. */
  static final String NON_FINITE = "non-finite loss or gradient norm";

  private static String argName(int i) {
    return "param_" + i;
  }

  @SuppressWarnings("unchecked")
  private static Operand<TFloat32> cast(Operand<?> o) {
    return (Operand<TFloat32>) o;
  }

  @SuppressWarnings("unchecked")
  private static List<Operand<TFloat32>> floats(List<Operand<?>> list) {
    List<Operand<TFloat32>> out = new ArrayList<>();
    list.forEach(o -> out.add((Operand<TFloat32>) o));
    return out;
  }

  /** Chooses the XLA-compiled or the plain step (both must have been built: AUTO). */
  public void useXla(boolean xla) {
    if (!paths.containsKey(xla)) {
      throw new IllegalStateException("the " + (xla ? "XLA" : "plain") + " step was not built");
    }
    this.useXla = xla;
  }

  public boolean usesXla() {
    return useXla;
  }

  public ImmutableList<String> usageNames() {
    return usageNames;
  }

  public ParamStore store() {
    return store;
  }

  public Session session() {
    return session;
  }

  /**
   * One optimisation step. With {@code apply} false, forward and backward only (for timing).
   *
   * @throws NonFiniteException if the loss or gradient is not finite; no variable changed
   */
  public StepMetrics step(int[] batchTokens, long step, long seed, double lr, boolean apply) {
    Path path = paths.get(useXla);
    double b1 = Math.pow(optimizer.beta1(), step + 1);
    double b2 = Math.pow(optimizer.beta2(), step + 1);
    try (TInt32 tokenTensor = Tensors.ints(Shape.of(batch, config.context() + 1), batchTokens);
        TFloat32 lrTensor = TFloat32.scalarOf((float) lr);
        TFloat32 b1Tensor = TFloat32.scalarOf((float) b1);
        TFloat32 b2Tensor = TFloat32.scalarOf((float) b2);
        TInt64 seedTensor = TInt64.vectorOf(seed, step)) {
      Session.Runner runner = session.runner().feed(tokens, tokenTensor).feed(learningRate, lrTensor)
          .feed(beta1Power, b1Tensor).feed(beta2Power, b2Tensor).feed(stepSeed, seedTensor)
          .fetch(path.loss()).fetch(path.lmLoss()).fetch(path.gradientNorm());
      path.usage().forEach(runner::fetch);
      if (apply) {
        runner.addTarget(path.train());
      }
      try (Result r = runner.run()) {
        double[] usage = new double[path.usage().size()];
        for (int i = 0; i < usage.length; i++) {
          usage[i] = ((TFloat32) r.get(3 + i)).getFloat();
        }
        return new StepMetrics(((TFloat32) r.get(0)).getFloat(), ((TFloat32) r.get(1)).getFloat(),
            ((TFloat32) r.get(2)).getFloat(), usage);
      } catch (RuntimeException e) {
        if (e.getMessage() != null && e.getMessage().contains(NON_FINITE)) {
          throw new NonFiniteException(step, e.getMessage());
        }
        throw e;
      }
    }
  }

  /**
   * The summed token cross-entropy (nats) of one evaluation batch. With XL memory the batch must
   * follow the previous one in each row's stream (see {@link #resetEvaluationMemory}).
   */
  public double evaluationLossSum(int[] batchTokens) {
    try (TInt32 tokenTensor = Tensors.ints(Shape.of(batch, config.context() + 1), batchTokens);
        Result r = session.runner().feed(tokens, tokenTensor).fetch(evalLossSum).addTarget(evalStep).run()) {
      return ((TFloat32) r.get(0)).getFloat();
    }
  }

  /** Zeroes the evaluation memory (XL), before a new pass over the validation streams. */
  public void resetEvaluationMemory() {
    session.runner().addTarget(resetEvalMemory).run().close();
  }

  /** True if the model carries an XL memory from chunk to chunk. */
  public boolean hasMemory() {
    return config.attention().positional() == Positional.XL;
  }

  public void save(String prefix) {
    session.save(prefix);
  }

  public void restore(String prefix) {
    session.restore(prefix);
  }

  @Override
  public void close() {
    session.close();
    graph.close();
  }
}
