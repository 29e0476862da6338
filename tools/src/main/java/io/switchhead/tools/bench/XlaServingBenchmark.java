package io.switchhead.tools.bench;

import static io.switchhead.tools.bench.ServingCalls.median;
import static io.switchhead.tools.bench.ServingCalls.seconds;
import static io.switchhead.tools.bench.ServingCalls.windowSeconds;

import com.google.common.collect.ImmutableList;
import com.google.common.io.MoreFiles;
import com.google.common.io.RecursiveDeleteOption;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.generate.Generator;
import io.switchhead.graph.generate.Sampling;
import io.switchhead.graph.generate.TokenDecoder;
import io.switchhead.savedmodel.SavedModelExport;
import io.switchhead.savedmodel.ServedModel;
import io.switchhead.savedmodel.ServingSignatures;
import io.switchhead.savedmodel.XlaMarks;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.tensorflow.SessionFunction;

/**
 * What {@code export --xla} costs or buys where the model is served: one preset's serving graph
 * (fresh parameters) exported unmarked, marked as {@code --xla} marks it, and with {@code
 * decode_step} marked too (what {@code --xla} leaves out), each loaded as a server loads it, then
 * measured in one process, repetitions interleaved: {@code serving_default} over whole windows at
 * batch 1 and 32, fresh tokens on every call (so every call routes anew), and generation at batch 1
 * through {@code decode_step}. The first call and the first two sequences are reported apart, as
 * XLA compiles there.
 */
public final class XlaServingBenchmark {

  /** An export to compare: what it marks. */
  private record Variant(String name, List<String> marked) {}

  private static final List<Variant> VARIANTS = List.of(
      new Variant("unmarked", List.of()),
      new Variant("--xla", XlaMarks.FULL_WINDOW),
      new Variant("--xla + decode_step", ImmutableList.<String>builder().addAll(XlaMarks.FULL_WINDOW).add(ServingSignatures.DECODE_STEP).build()));

  /**
   * What one variant measured: milliseconds, medians over the repetitions but for the first calls.
   *
   * @param firstWindow the first serving_default call (1 x context), compiles included
   * @param firstSequence the first generated sequence, compiles included
   * @param secondSequence the second, which XLA may still compile for
   */
  public record Figures(String variant, double firstWindow, double window1, double window32, double firstSequence, double secondSequence,
      double sequence) {}

  private XlaServingBenchmark() {}

  /** @param tokens new tokens per generated sequence (after a one-token prompt), at most the context */
  public static List<Figures> measure(ModelConfig c, int tokens, int repeats, PrintWriter log) {
    Path scratch = ScratchDirectory.create("switchhead-bench-xla-", "the exports");
    List<ServedModel> models = new ArrayList<>();
    List<TokenDecoder> decoders = new ArrayList<>();
    try {
      for (Variant v : VARIANTS) {
        Path dir = scratch.resolve("export-" + models.size());
        SavedModelExport.exportInitialised(c, 1, dir, SavedModelExport.Options.plain());
        if (!v.marked().isEmpty()) {
          XlaMarks.mark(dir, v.marked());
        }
        models.add(ServedModel.load(dir));
        decoders.add(models.get(models.size() - 1).cachedDecoder());
      }
      return measure(c, tokens, repeats, models, decoders, log);
    } finally {
      decoders.forEach(TokenDecoder::close);
      models.forEach(ServedModel::close);
      try {
        MoreFiles.deleteRecursively(scratch, RecursiveDeleteOption.ALLOW_INSECURE);
      } catch (IOException e) {
        log.println("could not delete " + scratch + ": " + e.getMessage());
      }
    }
  }

  private static List<Figures> measure(ModelConfig c, int tokens, int repeats, List<ServedModel> models, List<TokenDecoder> decoders,
      PrintWriter log) {
    int n = VARIANTS.size();
    int t = c.context();
    SplittableRandom random = new SplittableRandom(7);
    int[] prompt = {random.nextInt(c.vocabSize())};
    Sampling greedy = Sampling.of(0, 1);
    double[] firstWindow = new double[n];
    double[][] firstSequences = new double[n][2];
    for (int i = 0; i < n; i++) {
      SessionFunction window = models.get(i).function(ServingSignatures.DEFAULT);
      firstWindow[i] = windowSeconds(window, random.ints(t, 0, c.vocabSize()).toArray(), 1, t);
      windowSeconds(window, random.ints(32L * t, 0, c.vocabSize()).toArray(), 32, t); // compiles batch 32
      TokenDecoder decoder = decoders.get(i);
      for (int s = 0; s < 2; s++) {
        firstSequences[i][s] = seconds(() -> Generator.continueFrom(decoder, prompt, tokens, greedy, x -> {}));
      }
      log.printf(Locale.ROOT, "  %s: first serving_default call %.0f ms, first two sequences %.0f and %.0f ms%n", VARIANTS.get(i).name(),
          firstWindow[i] * 1e3, firstSequences[i][0] * 1e3, firstSequences[i][1] * 1e3);
      log.flush();
    }
    double[][] window1 = new double[n][repeats];
    double[][] window32 = new double[n][repeats];
    double[][] sequence = new double[n][repeats];
    for (int r = 0; r < repeats; r++) {
      for (int i = 0; i < n; i++) {
        SessionFunction window = models.get(i).function(ServingSignatures.DEFAULT);
        TokenDecoder decoder = decoders.get(i);
        window1[i][r] = windowSeconds(window, random.ints(t, 0, c.vocabSize()).toArray(), 1, t);
        window32[i][r] = windowSeconds(window, random.ints(32L * t, 0, c.vocabSize()).toArray(), 32, t);
        sequence[i][r] = seconds(() -> Generator.continueFrom(decoder, prompt, tokens, greedy, x -> {}));
      }
      log.printf(Locale.ROOT, "  repetition %d done%n", r + 1);
      log.flush();
    }
    List<Figures> figures = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      figures.add(new Figures(VARIANTS.get(i).name(), firstWindow[i] * 1e3, median(window1[i]) * 1e3, median(window32[i]) * 1e3,
          firstSequences[i][0] * 1e3, firstSequences[i][1] * 1e3, median(sequence[i]) * 1e3));
    }
    return figures;
  }
}
