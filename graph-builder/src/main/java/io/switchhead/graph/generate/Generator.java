package io.switchhead.graph.generate;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.model.ForwardGraph;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.graph.train.Checkpoints;
import io.switchhead.graph.train.SavedVariables;
import io.switchhead.graph.train.VerifiedCheckpoint;
import io.switchhead.ops.Tensors;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Samples text from a trained model: the newest intact checkpoint of a run, one token at a time. Each step
 * runs the model over the last T tokens (no cache) and samples the next token from the logits at the
 * last filled position; positions after it, filled with anything, cannot influence it (causality).
 * XL models generate without memory.
 */
public final class Generator implements AutoCloseable {

  private final ModelConfig config;
  private final Graph graph = new Graph();
  private final Session session;
  private final Placeholder<TInt32> window;
  private final Operand<TFloat32> logits;

  private Generator(VerifiedCheckpoint checkpoint) {
    this.config = checkpoint.state().model();
    Ops tf = Ops.create(graph);
    window = tf.withName("tokens").placeholder(TInt32.class, Placeholder.shape(Shape.of(1, config.context())));
    ParamStore store = ParamStore.variables(tf, 0);
    logits = ForwardGraph.build(config, store, LayerContext.eval(tf), ForwardGraph.Inputs.tokens(window)).logits();
    store.freeze();
    session = new Session(graph);
    try {
      checkpoint.restoreParameters(session, SavedVariables.of(graph));
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  /**
   * The model of the newest intact checkpoint in a run directory (see {@link Checkpoints#latestVerified}).
   *
   * @param warnings receives a line per damaged checkpoint skipped
   */
  public static Generator load(Path runDirectory, Consumer<String> warnings) {
    return new Generator(Checkpoints.latestVerified(runDirectory, warnings));
  }

  public ModelConfig config() {
    return config;
  }

  /**
   * Continues {@code prompt} by {@code count} tokens.
   *
   * @param temperature 0 for the most likely token each time, above 0 to sample from softmax(logits / t)
   * @return the new tokens only
   */
  public int[] continueFrom(int[] prompt, int count, double temperature, long seed) {
    checkArgument(prompt.length >= 1, "the prompt is empty: give at least one token");
    checkArgument(count >= 0, "token count (%s) must be >= 0", count);
    checkArgument(temperature >= 0, "temperature (%s) must be >= 0", temperature);
    for (int i = 0; i < prompt.length; i++) {
      checkArgument(prompt[i] >= 0 && prompt[i] < config.vocabSize(),
          "prompt token %s at position %s is outside the vocabulary [0, %s)", prompt[i], i, config.vocabSize());
    }
    int t = config.context();
    int[] text = Arrays.copyOf(prompt, prompt.length + count);
    int length = prompt.length;
    SplittableRandom random = new SplittableRandom(seed);
    for (int n = 0; n < count; n++) {
      int start = Math.max(0, length - t);
      int[] input = new int[t];
      System.arraycopy(text, start, input, 0, length - start);
      float[] next = lastLogits(input, length - start - 1);
      text[length++] = temperature == 0 ? argmax(next) : sample(next, temperature, random);
    }
    return Arrays.copyOfRange(text, prompt.length, text.length);
  }

  private float[] lastLogits(int[] input, int position) {
    int v = config.vocabSize();
    try (TInt32 tokens = Tensors.ints(Shape.of(1, config.context()), input);
        Result r = session.runner().feed(window, tokens).fetch(logits).run()) {
      return Arrays.copyOfRange(Tensors.toFloats(r.get(0)), position * v, (position + 1) * v);
    }
  }

  private static int argmax(float[] values) {
    int best = 0;
    for (int i = 1; i < values.length; i++) {
      if (values[i] > values[best]) {
        best = i;
      }
    }
    return best;
  }

  private static int sample(float[] logits, double temperature, SplittableRandom random) {
    double max = Double.NEGATIVE_INFINITY;
    for (float l : logits) {
      max = Math.max(max, l);
    }
    double[] weights = new double[logits.length];
    double total = 0;
    for (int i = 0; i < logits.length; i++) {
      weights[i] = Math.exp((logits[i] - max) / temperature);
      total += weights[i];
    }
    double u = random.nextDouble() * total;
    for (int i = 0; i < weights.length; i++) {
      u -= weights[i];
      if (u <= 0) {
        return i;
      }
    }
    return weights.length - 1;
  }

  @Override
  public void close() {
    session.close();
    graph.close();
  }
}
