package io.switchhead.graph.train;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkState;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSortedMap;
import io.switchhead.graph.cluster.ClusterSpec;
import io.switchhead.graph.cluster.RemoteSession;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.layers.ExpertCounts;
import io.switchhead.graph.layers.ExpertUsage;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.model.ForwardGraph;
import io.switchhead.graph.model.MemoryState;
import io.switchhead.graph.params.ParamSpec;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.xla.SessionOptions;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.exceptions.TFInvalidArgumentException;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.RunMetadata;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TFloating;

/**
 * The graph and session of one training run: parameters and AdamW slots as variables, one training
 * step per requested {@link StepKind} (all sharing the variables), and a forward-only evaluation
 * over the same parameters. The model itself is built by {@link ForwardGraph}.
 *
 * <p>Feeds per step: {@code tokens} [B, T+1] (inputs are the first T, targets the last T), the
 * learning rate, Adam's bias corrections and the step seed. A guard fails the step before any
 * variable changes if the loss or the gradient norm is not finite. On several devices ({@link
 * Replicas}) each step's forward and backward is replicated over them ({@link ReplicatedPass}).
 */
public final class TrainingGraph implements AutoCloseable {

  /** The placeholders fed to every step. */
  private record Feeds(Placeholder<TInt32> tokens, Placeholder<TFloat32> learningRate, Placeholder<TFloat32> beta1Power,
      Placeholder<TFloat32> beta2Power, Placeholder<TInt64> stepSeed) {}

  private final ModelConfig config;
  private final int batch;
  private final AdamW optimizer;
  private final Graph graph = new Graph();
  private final Ops tf;
  private final Session session;
  private final ParamStore store;
  private final Feeds feeds;
  private final Map<StepKind, TrainStep> steps = new EnumMap<>(StepKind.class);
  private final EvaluationStep evaluation;
  private final ImmutableList<String> usageNames;
  private final ImmutableList<String> droppedNames;
  private final ImmutableList<MeanKSite> meanKSites;
  private final long allReducedFloats;
  private final Optional<CompiledStepSignature> compiledSignature;
  private StepKind kind;

  /** The steps a run in {@code train.xla()} mode needs (see {@link StepKind#forMode}). */
  public TrainingGraph(ModelConfig config, TrainConfig train) {
    this(config, train, Replicas.one());
  }

  /** The same, each step replicated over {@code replicas}. */
  public TrainingGraph(ModelConfig config, TrainConfig train, Replicas replicas) {
    this(config, StepSettings.of(train), StepKind.forMode(train.xla()), replicas);
  }

  /** The steps of {@code kinds} on one device. */
  public TrainingGraph(ModelConfig config, StepSettings settings, Set<StepKind> kinds) {
    this(config, settings, kinds, Replicas.one());
  }

  /**
   * @param kinds the steps to build, at most one of them a plain-graph one; the first in
   *     {@link StepKind} order runs until {@link #use} chooses another
   * @param replicas the devices each step is replicated over (data parallelism, {@link
   *     ReplicatedPass}); with one, the step is built in the graph itself, without collective ops
   */
  public TrainingGraph(ModelConfig config, StepSettings settings, Set<StepKind> kinds, Replicas replicas) {
    checkArgument(!kinds.isEmpty(), "build at least one step kind");
    checkArgument(!(kinds.contains(StepKind.PLAIN) && kinds.contains(StepKind.PLAIN_STATIC_SHAPES)),
        "one graph holds one plain step: %s", kinds);
    replicas.share(settings.batch()); // an uneven split is refused before anything is built
    this.config = config;
    this.batch = settings.batch();
    this.optimizer = settings.optimizer();
    tf = GraphOps.create(graph);
    int t = config.context();
    feeds = new Feeds(
        tf.withName("tokens").placeholder(TInt32.class, Placeholder.shape(Shape.of(batch, t + 1))),
        tf.withName("learning_rate").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar())),
        tf.withName("beta1_power").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar())),
        tf.withName("beta2_power").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar())),
        tf.withName("step_seed").placeholder(TInt64.class, Placeholder.shape(Shape.of(2))));

    store = ParamStore.variables(tf, settings.seed());
    Operand<TInt32> inputs = tf.slice(feeds.tokens(), tf.constant(new int[] {0, 0}), tf.constant(new int[] {batch, t}));
    Operand<TInt32> targets = tf.slice(feeds.tokens(), tf.constant(new int[] {0, 1}), tf.constant(new int[] {batch, t}));
    MemoryState trainMemory = MemoryState.create(store, config, "train", batch);
    MemoryState evalMemory = MemoryState.create(store, config, "eval", batch);

    // The plain forward creates the variables; the compiled step, the replicas and the evaluation read
    // them by path. Replicated, it is built for that and for the names of what a step reports only.
    LayerContext plainContext = LayerContext.train(tf, feeds.stepSeed());
    if (kinds.contains(StepKind.PLAIN_STATIC_SHAPES)) {
      plainContext = plainContext.withStaticShapes();
    }
    ForwardGraph.Output plain = ForwardGraph.build(config, store, plainContext,
        ForwardGraph.Inputs.tokens(inputs).withTargets(targets).withMemories(trainMemory.reads(tf)));
    usageNames = ImmutableList.copyOf(plain.usage().stream().map(ExpertUsage::name).toList());
    droppedNames = ImmutableList.copyOf(plain.usage().stream().filter(u -> u.droppedShare().isPresent()).map(ExpertUsage::name).toList());
    meanKSites = ImmutableList.copyOf(plain.usage().stream().filter(ExpertUsage::dynamic)
        .map(u -> new MeanKSite(u.name(), u.selection().k())).toList());
    GuardedUpdate update = new GuardedUpdate(store, AdamW.slots(store), optimizer,
        new AdamW.StepInputs(feeds.learningRate(), feeds.beta1Power(), feeds.beta2Power()), settings.gradientClip(), trainMemory);
    StepFunction.Outputs outputs = new StepFunction.Outputs(usageNames.size(), droppedNames.size(), store.bufferUpdates().size(),
        ParamGradients.sparseRows(store).keySet(), meanKSites.size());
    StepFunction.Arguments whole = new StepFunction.Arguments(inputs, targets, feeds.stepSeed(), store.values(), trainMemory.reads(tf));
    allReducedFloats = FusedBuffer.of(store).size(outputs);
    Optional<CompiledStepSignature> signature = Optional.empty();
    for (StepKind k : EnumSet.copyOf(kinds)) {
      Backward pass;
      if (replicas.replicated()) {
        ConcreteFunction replica = StepFunction.define(config, replicas.share(batch), whole.memories().size(), outputs.sparse(), k);
        pass = ReplicatedPass.build(tf, replica, k, replicas, store, whole, outputs, k.ordinal() + 1);
      } else if (k.compiled()) {
        ConcreteFunction step = StepFunction.define(config, batch, whole.memories().size(), outputs.sparse(), k);
        pass = StepFunction.call(tf, step, k, whole, outputs);
        signature = Optional.of(StepFunction.signature(step, store.params().stream().map(p -> p.spec().path()).toList()));
      } else {
        pass = plainPass(plain, store, tf);
      }
      steps.put(k, update.build(tf, k.compiled() ? "xla" : "plain", pass));
    }
    compiledSignature = signature;
    kind = steps.keySet().iterator().next();

    evaluation = EvaluationStep.build(tf, config, batch, store, inputs, targets, evalMemory);
    store.freeze();

    ConfigProto sessionConfig = replicas.session(SessionOptions.plain());
    // On a cluster the chief's server is the session's master: it places the replicas on their tasks.
    session = replicas.cluster().map(c -> RemoteSession.open(graph, c.target(ClusterSpec.CHIEF), sessionConfig))
        .orElseGet(() -> new Session(graph, sessionConfig));
    store.initialize(session);
  }

  /** The one-device pass: the gradients of the plain forward, built in the graph itself. */
  @SuppressWarnings("unchecked")
  private static Backward plainPass(ForwardGraph.Output plain, ParamStore store, Ops tf) {
    ForwardGraph.Losses losses = plain.requireLosses();
    ImmutableList<Operand<TFloat32>> grads = floats(ParamGradients.of(tf, losses.total(), store));
    ImmutableList<Operand<TFloat32>> bufferTargets = ImmutableList.copyOf(store.bufferUpdates().stream()
        .map(u -> (Operand<TFloat32>) u.target()).toList());
    return new Backward(losses.total(), losses.lm(), grads, entropies(plain), floats(new ArrayList<>(droppedShares(plain))),
        plain.nextMemories(), bufferTargets, ParamGradients.sparseRows(store), meanKs(tf, plain));
  }

  @SuppressWarnings("unchecked")
  private static ImmutableList<Operand<TFloat32>> entropies(ForwardGraph.Output f) {
    return ImmutableList.copyOf(f.usage().stream().map(u -> (Operand<TFloat32>) u.entropy()).toList());
  }

  /** The dropped shares of the selections that have a capacity, in {@link #droppedNames} order. */
  static List<Operand<? extends TFloating>> droppedShares(ForwardGraph.Output f) {
    return f.usage().stream().flatMap(u -> u.droppedShare().stream()).toList();
  }

  /** The mean K of each dynamic-k selection, in {@link #meanKSites} order. */
  private static ImmutableList<Operand<TFloat32>> meanKs(Ops tf, ForwardGraph.Output f) {
    return ImmutableList.copyOf(f.usage().stream().filter(ExpertUsage::dynamic).map(u -> u.meanK(tf)).toList());
  }

  @SuppressWarnings("unchecked")
  private static ImmutableList<Operand<TFloat32>> floats(List<Operand<?>> list) {
    return ImmutableList.copyOf(list.stream().map(o -> (Operand<TFloat32>) o).toList());
  }

  /**
   * The floats each replica all-reduces per step when the step is replicated (whether or not this
   * graph's is): every parameter's gradient and a few scalars (see {@link FusedBuffer}).
   */
  public long allReducedFloats() {
    return allReducedFloats;
  }

  /** Chooses which built step {@link #step} runs (AUTO builds two to time them). */
  public void use(StepKind newKind) {
    checkState(steps.containsKey(newKind), "the %s step was not built (built: %s)", newKind, steps.keySet());
    this.kind = newKind;
  }

  /**
   * What the compiled step takes and returns, in the order of its XLA module's parameters and
   * results (for running its dumped HLO elsewhere).
   *
   * @throws IllegalStateException if no {@link StepKind#XLA} step was built
   */
  public CompiledStepSignature compiledStepSignature() {
    return compiledSignature.orElseThrow(() -> new IllegalStateException("the XLA step was not built (built: " + steps.keySet() + ")"));
  }

  /** The step kind {@link #step} runs. */
  public StepKind kind() {
    return kind;
  }

  /** Each dynamic-k selection (our design) whose mean K a step reports, in {@link StepMetrics#meanK} order. */
  public ImmutableList<MeanKSite> meanKSites() {
    return meanKSites;
  }

  /** The name of each expert selection whose usage entropy a step reports. */
  public ImmutableList<String> usageNames() {
    return usageNames;
  }

  /**
   * The name of each expert selection with a capacity (MH-MoE), whose share of dropped choices a
   * step reports; the dropless ones have none.
   */
  public ImmutableList<String> droppedNames() {
    return droppedNames;
  }

  public ParamStore store() {
    return store;
  }

  /** The graph of every step, for tools that look at what was built (op counts, XLA support, pictures). */
  public Graph graph() {
    return graph;
  }

  public Session session() {
    return session;
  }

  /**
   * The loss the current step kind minimises. In the plain step, the ops it depends on are the
   * forward pass, which the benchmarks tell apart from the backward and the update in a trace.
   */
  public Operand<TFloat32> stepLoss() {
    return steps.get(kind).loss();
  }

  /**
   * One optimisation step. With {@code apply} false, forward and backward only (for timing).
   *
   * @throws NonFiniteException if the loss or gradient is not finite; no variable changed
   */
  public StepMetrics step(int[] batchTokens, long step, long seed, double lr, boolean apply) {
    TrainStep path = steps.get(kind);
    return run(batchTokens, step, seed, lr, apply, Optional.empty(), path::read);
  }

  /**
   * One optimisation step, as {@link #step} with {@code apply}, traced by TensorFlow ({@code
   * FULL_TRACE}): the step stats give each executed node's output shapes and its allocator's bytes
   * in use, which the benchmarks count FLOPs and memory from. Slower than an untraced step.
   */
  public RunMetadata tracedStep(int[] batchTokens, long step, long seed, double lr) {
    RunOptions trace = RunOptions.newBuilder().setTraceLevel(RunOptions.TraceLevel.FULL_TRACE).build();
    return run(batchTokens, step, seed, lr, true, Optional.of(trace), r -> r.getMetadata().orElseThrow(
        () -> new IllegalStateException("TensorFlow returned no run metadata for a traced step")));
  }

  private <R> R run(int[] batchTokens, long step, long seed, double lr, boolean apply, Optional<RunOptions> options, Function<Result, R> read) {
    TrainStep path = steps.get(kind);
    double b1 = Math.pow(optimizer.beta1(), step + 1);
    double b2 = Math.pow(optimizer.beta2(), step + 1);
    try (TInt32 tokenTensor = Tensors.ints(Shape.of(batch, config.context() + 1), batchTokens);
        TFloat32 lrTensor = TFloat32.scalarOf((float) lr);
        TFloat32 b1Tensor = TFloat32.scalarOf((float) b1);
        TFloat32 b2Tensor = TFloat32.scalarOf((float) b2);
        TInt64 seedTensor = TInt64.vectorOf(seed, step)) {
      Session.Runner runner = path.fetch(session.runner().feed(feeds.tokens(), tokenTensor).feed(feeds.learningRate(), lrTensor)
          .feed(feeds.beta1Power(), b1Tensor).feed(feeds.beta2Power(), b2Tensor).feed(feeds.stepSeed(), seedTensor));
      options.ifPresent(runner::setOptions);
      if (!apply) {
        try (Result r = runner.run()) {
          return read.apply(r);
        }
      }
      runner.addTarget(path.train());
      try (Result r = options.isPresent() ? runner.runAndFetchMetadata() : runner.run()) {
        return read.apply(r);
      } catch (TFInvalidArgumentException e) {
        throw explain(e, batchTokens, step, seed, lr);
      }
    }
  }

  /**
   * The guard stopped the step before any update, or something else failed. The same step without
   * its update recomputes the loss and the norm (a step is a function of its inputs and seed), so
   * the values say which, not the error's text.
   */
  private RuntimeException explain(TFInvalidArgumentException failure, int[] batchTokens, long step, long seed, double lr) {
    StepMetrics again;
    try {
      again = step(batchTokens, step, seed, lr, false);
    } catch (RuntimeException second) {
      failure.addSuppressed(second);
      return failure;
    }
    if (!Double.isFinite(again.loss()) || !Double.isFinite(again.gradientNorm())) {
      return new NonFiniteException(step, again.loss(), again.gradientNorm());
    }
    return failure;
  }

  /**
   * The summed token cross-entropy (nats) of one evaluation batch. With XL memory the batch must
   * follow the previous one in each row's stream (see {@link #resetEvaluationMemory}).
   */
  public double evaluationLossSum(int[] batchTokens) {
    return evaluationLossSum(batchTokens, List.of());
  }

  /**
   * The same, also counting the batch's expert choices.
   *
   * @param usage one counter per selection, in {@link #usageNames} order (see {@link
   *     #emptyExpertCounts}), or empty to count nothing
   */
  public double evaluationLossSum(int[] batchTokens, List<ExpertCounts> usage) {
    checkArgument(usage.isEmpty() || usage.size() == evaluation.usage().size(),
        "need one expert counter per selection (%s), got %s", evaluation.usage().size(), usage.size());
    Session.Runner runner = session.runner().fetch(evaluation.lossSum());
    if (!usage.isEmpty()) {
      evaluation.usage().forEach(u -> runner.fetch(u.ids()));
      // Dynamic k: each token's K, so the counters leave out the slots it did not use.
      evaluation.usage().stream().filter(ExpertUsage::dynamic).forEach(u -> runner.fetch(u.kPerToken()));
    }
    try (TInt32 tokenTensor = Tensors.ints(Shape.of(batch, config.context() + 1), batchTokens);
        Result r = runner.feed(feeds.tokens(), tokenTensor).addTarget(evaluation.step()).run()) {
      int next = 1 + usage.size();
      for (int i = 0; i < usage.size(); i++) {
        int[] ids = Tensors.toInts(r.get(i + 1));
        if (evaluation.usage().get(i).dynamic()) {
          usage.get(i).add(ids, Tensors.toInts(r.get(next++)));
        } else {
          usage.get(i).add(ids);
        }
      }
      return ((TFloat32) r.get(0)).getFloat();
    }
  }

  /** One empty counter per expert selection, in {@link #usageNames} order, for {@link #evaluationLossSum(int[], List)}. */
  public ImmutableList<ExpertCounts> emptyExpertCounts() {
    return ImmutableList.copyOf(evaluation.usage().stream().map(ExpertCounts::empty).toList());
  }

  /** Zeroes the evaluation memory (XL), before a new pass over the validation streams. */
  public void resetEvaluationMemory() {
    session.runner().addTarget(evaluation.resetMemory()).run().close();
  }

  /**
   * Sets every parameter to the value given for its path: a run that starts from imported weights
   * instead of its initialisation. The Adam slots and XL memories keep the zeros a new run has. The
   * assignments join the graph here, as only an import needs them.
   *
   * @throws IllegalArgumentException if the paths are not exactly the parameters', or a value's
   *     shape is not its parameter's
   */
  @SuppressWarnings("unchecked")
  public void assignParameters(Map<String, TFloat32> values) {
    Set<String> paths = store.specs().stream().map(ParamSpec::path).collect(Collectors.toCollection(TreeSet::new));
    checkArgument(paths.equals(new TreeSet<>(values.keySet())), "values for %s, but the parameters are %s",
        new TreeSet<>(values.keySet()), paths);
    Ops assign = tf.withSubScope("assign_parameters");
    Session.Runner runner = session.runner();
    for (ParamStore.Param p : store.params()) {
      TFloat32 value = values.get(p.spec().path());
      checkArgument(value.shape().equals(p.spec().shape()), "parameter '%s' has shape %s, its value %s", p.spec().path(),
          p.spec().shape(), value.shape());
      Placeholder<TFloat32> in = assign.placeholder(TFloat32.class, Placeholder.shape(p.spec().shape()));
      runner.feed(in, value).addTarget(assign.assign((Variable<TFloat32>) p.variable(), in));
    }
    runner.run().close();
  }

  /**
   * Sets every buffer (PEER's BatchNorm statistics) to the value given for its path, as {@link
   * #assignParameters} does for the parameters; an import carries both.
   *
   * @throws IllegalArgumentException if the paths are not exactly the buffers', or a shape differs
   */
  @SuppressWarnings("unchecked")
  public void assignBuffers(Map<String, TFloat32> values) {
    Set<String> paths = store.buffers().stream().map(b -> b.spec().path()).collect(Collectors.toCollection(TreeSet::new));
    checkArgument(paths.equals(new TreeSet<>(values.keySet())), "values for %s, but the buffers are %s", new TreeSet<>(values.keySet()), paths);
    if (paths.isEmpty()) {
      return;
    }
    Ops assign = tf.withSubScope("assign_buffers");
    Session.Runner runner = session.runner();
    for (ParamStore.Param b : store.buffers()) {
      TFloat32 value = values.get(b.spec().path());
      checkArgument(value.shape().equals(b.spec().shape()), "buffer '%s' has shape %s, its value %s", b.spec().path(),
          b.spec().shape(), value.shape());
      Placeholder<TFloat32> in = assign.placeholder(TFloat32.class, Placeholder.shape(b.spec().shape()));
      runner.feed(in, value).addTarget(assign.assign((Variable<TFloat32>) b.variable(), in));
    }
    runner.run().close();
  }

  /** The variables a checkpoint of this graph holds, by name. */
  public ImmutableSortedMap<String, VariableType> variables() {
    return SavedVariables.of(graph);
  }

  public void save(String prefix) {
    session.save(prefix);
  }

  @Override
  public void close() {
    session.close();
    graph.close();
  }
}
