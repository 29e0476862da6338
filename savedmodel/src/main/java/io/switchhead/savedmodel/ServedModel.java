package io.switchhead.savedmodel;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableMap;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.generate.TokenDecoder;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.graph.train.SavedVariables;
import io.switchhead.graph.train.VerifiedCheckpoint;
import io.switchhead.ops.GraphOps;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.tensorflow.Graph;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.SessionFunction;
import org.tensorflow.Signature;
import org.tensorflow.op.Ops;

/**
 * The serving signatures of a model, callable by name: loaded from an exported SavedModel as a
 * server loads it, or built in this process from a run's checkpoint, the same graph that export
 * writes (and, built here, {@code decode_token} as {@code export --xla} writes it). Generation runs
 * on either through {@link #cachedDecoder}, so one seed gives one text from both. Safe to call from many threads; each decoder is one sequence's state.
 */
public final class ServedModel implements AutoCloseable {

  private final ModelConfig config;
  private final ImmutableMap<String, SessionFunction> functions;
  private final AutoCloseable[] owned;

  private ServedModel(ModelConfig config, ImmutableMap<String, SessionFunction> functions, AutoCloseable... owned) {
    this.config = config;
    this.functions = functions;
    this.owned = owned;
  }

  /** Loads an export of {@link SavedModelExport} with TensorFlow's SavedModel loader (tag {@code serve}). */
  public static ServedModel load(Path savedModel) {
    checkArgument(Files.isRegularFile(savedModel.resolve("saved_model.pb")), "%s is not a SavedModel: it has no saved_model.pb", savedModel);
    checkArgument(Files.isRegularFile(savedModel.resolve(SavedModelExport.DESCRIPTION)),
        "%s has no %s: it was not exported by switchhead export, so its model is unknown", savedModel, SavedModelExport.DESCRIPTION);
    ModelConfig config = SavedModelExport.readDescription(savedModel).model();
    SavedModelBundle bundle = SavedModelBundle.load(savedModel.toString(), ServingSignatures.TAG);
    try {
      ImmutableMap.Builder<String, SessionFunction> functions = ImmutableMap.builder();
      for (String key : new String[] {ServingSignatures.DEFAULT, ServingSignatures.NEXT_TOKEN_LOGPROBS, ServingSignatures.DECODE_STEP}) {
        checkArgument(bundle.signatures().stream().anyMatch(s -> s.key().equals(key)), "%s has no signature %s (exported by an older version?)", savedModel, key);
        functions.put(key, bundle.function(key));
      }
      if (bundle.signatures().stream().anyMatch(s -> s.key().equals(ServingSignatures.DECODE_TOKEN))) { // exported with --xla
        functions.put(ServingSignatures.DECODE_TOKEN, bundle.function(ServingSignatures.DECODE_TOKEN));
      }
      return new ServedModel(config, functions.build(), bundle);
    } catch (RuntimeException e) {
      bundle.close();
      throw e;
    }
  }

  /** The serving graph of a run's checkpoint (that of {@code step}, or the newest intact one), in this process. */
  public static ServedModel fromRun(Path runDirectory, OptionalLong step, Consumer<String> warnings) {
    return fromCheckpoint(SavedModelExport.checkpoint(runDirectory, step, warnings));
  }

  /** The serving graph of a verified checkpoint, in this process. */
  public static ServedModel fromCheckpoint(VerifiedCheckpoint checkpoint) {
    return build(checkpoint.state().model(), (store, session) -> checkpoint.restoreParameters(session, SavedVariables.of(session.graph())), 0);
  }

  /** The serving graph of a model with freshly initialised parameters (from {@code seed}): for benchmarks, which time and do not read. */
  public static ServedModel initialised(ModelConfig config, long seed) {
    return build(config, ParamStore::initialize, seed);
  }

  private static ServedModel build(ModelConfig config, BiConsumer<ParamStore, Session> parameters, long seed) {
    Graph graph = new Graph();
    Session session = null;
    try {
      Ops tf = GraphOps.create(graph);
      ParamStore store = ParamStore.variables(tf, seed);
      ServingGraph serving = ServingGraph.build(tf, config, store, true);
      store.freeze();
      session = new Session(graph);
      parameters.accept(store, session);
      ImmutableMap.Builder<String, SessionFunction> functions = ImmutableMap.builder();
      for (Signature s : serving.signatures()) {
        functions.put(s.key(), SessionFunction.create(s, session));
      }
      return new ServedModel(config, functions.build(), session, graph);
    } catch (RuntimeException e) {
      if (session != null) {
        session.close();
      }
      graph.close();
      throw e;
    }
  }

  public ModelConfig config() {
    return config;
  }

  /** The signature {@code key} of {@link ServingSignatures}, called with its input names. */
  public SessionFunction function(String key) {
    SessionFunction f = functions.get(key);
    checkArgument(f != null, "no signature %s; there are %s", key, functions.keySet());
    return f;
  }

  /**
   * A new sequence decoded with its cache kept between calls: one token at a time through the
   * compiled {@code decode_token} where the model has it (built in this process, or exported with
   * {@code --xla}), prompts and the rest through {@code decode_step}.
   */
  public TokenDecoder cachedDecoder() {
    return new CachedDecoder(function(ServingSignatures.DECODE_STEP), Optional.ofNullable(functions.get(ServingSignatures.DECODE_TOKEN)), config);
  }

  /** A new sequence decoded by {@code decode_step} alone, op by op; for comparisons. */
  public TokenDecoder uncompiledCachedDecoder() {
    return new CachedDecoder(function(ServingSignatures.DECODE_STEP), Optional.empty(), config);
  }

  /** A new sequence decoded by recomputing the whole window for each token ({@code next_token_logprobs}); for comparisons. */
  public TokenDecoder fullWindowDecoder() {
    return new FullWindowDecoder(function(ServingSignatures.NEXT_TOKEN_LOGPROBS), config);
  }

  @Override
  public void close() {
    for (AutoCloseable c : owned) {
      try {
        c.close();
      } catch (Exception e) {
        throw new IllegalStateException("cannot close " + c, e);
      }
    }
  }
}
