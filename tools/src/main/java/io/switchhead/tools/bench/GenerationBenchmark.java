package io.switchhead.tools.bench;

import static io.switchhead.tools.bench.ServingCalls.median;
import static io.switchhead.tools.bench.ServingCalls.seconds;
import static io.switchhead.tools.bench.ServingCalls.windowSeconds;

import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.generate.Generator;
import io.switchhead.graph.generate.Sampling;
import io.switchhead.graph.generate.TokenDecoder;
import io.switchhead.savedmodel.ServedModel;
import io.switchhead.savedmodel.ServingSignatures;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.SplittableRandom;
import org.tensorflow.SessionFunction;

/**
 * Inference throughput of a served model, every way measured in one process, repetitions
 * interleaved: generation at batch 1 with the cache, one token per call through the compiled
 * decode_token and through decode_step op by op, against recomputing the full window per token
 * (next_token_logprobs), and serving_default over whole windows at batch 1 and batch 32.
 * The model is the serving graph export writes, its parameters freshly initialised (time does not
 * depend on their values beyond the routing, which is near uniform either way).
 */
public final class GenerationBenchmark {

  /** What one preset measured: tokens/s, medians over the repetitions. */
  public record Figures(double cachedTokensPerSecond, double uncompiledCachedTokensPerSecond, double fullWindowTokensPerSecond,
      double windowBatch1TokensPerSecond, double windowBatch32TokensPerSecond) {}

  private GenerationBenchmark() {}

  /**
   * @param tokens new tokens per generation (after a one-token prompt); at most the context keeps
   *     both decoders in the window
   */
  public static Figures measure(ModelConfig c, int tokens, int repeats, PrintWriter log) {
    try (ServedModel model = ServedModel.initialised(c, 1);
        TokenDecoder cached = model.cachedDecoder();
        TokenDecoder uncompiled = model.uncompiledCachedDecoder();
        TokenDecoder full = model.fullWindowDecoder()) {
      SessionFunction window = model.function(ServingSignatures.DEFAULT);
      SplittableRandom random = new SplittableRandom(7);
      int[] prompt = {random.nextInt(c.vocabSize())};
      Sampling greedy = Sampling.of(0, 1);
      // Warm-up: every shape each way meets once.
      Generator.continueFrom(cached, prompt, Math.min(tokens, 4), greedy, t -> {});
      Generator.continueFrom(uncompiled, prompt, Math.min(tokens, 4), greedy, t -> {});
      Generator.continueFrom(full, prompt, Math.min(tokens, 4), greedy, t -> {});
      int[] batch1 = random.ints(c.context(), 0, c.vocabSize()).toArray();
      int[] batch32 = random.ints(32L * c.context(), 0, c.vocabSize()).toArray();
      windowSeconds(window, batch1, 1, c.context());
      windowSeconds(window, batch32, 32, c.context());
      double[] cachedRate = new double[repeats];
      double[] uncompiledRate = new double[repeats];
      double[] fullRate = new double[repeats];
      double[] window1 = new double[repeats];
      double[] window32 = new double[repeats];
      for (int r = 0; r < repeats; r++) {
        cachedRate[r] = tokens / seconds(() -> Generator.continueFrom(cached, prompt, tokens, greedy, t -> {}));
        uncompiledRate[r] = tokens / seconds(() -> Generator.continueFrom(uncompiled, prompt, tokens, greedy, t -> {}));
        fullRate[r] = tokens / seconds(() -> Generator.continueFrom(full, prompt, tokens, greedy, t -> {}));
        window1[r] = c.context() / windowSeconds(window, batch1, 1, c.context());
        window32[r] = 32.0 * c.context() / windowSeconds(window, batch32, 32, c.context());
        log.printf(Locale.ROOT, "  repetition %d: cached %.1f (op by op %.1f), full window %.1f, serving_default 1x%d %.0f, 32x%d %.0f tokens/s%n",
            r + 1, cachedRate[r], uncompiledRate[r], fullRate[r], c.context(), window1[r], c.context(), window32[r]);
        log.flush();
      }
      return new Figures(median(cachedRate), median(uncompiledRate), median(fullRate), median(window1), median(window32));
    }
  }
}
