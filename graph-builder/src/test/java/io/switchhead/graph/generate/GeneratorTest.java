package io.switchhead.graph.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.testing.Seeded;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The generation loop and its sampling, on a decoder whose logits the test chooses. */
class GeneratorTest {

  @Seeded private Random random;

  /** Logits drawn once; records what it was fed. */
  private static final class FixedDecoder implements TokenDecoder {
    final float[] logits;
    final List<int[]> fed = new ArrayList<>();
    int resets;

    FixedDecoder(float[] logits) {
      this.logits = logits;
    }

    @Override
    public int vocabSize() {
      return logits.length;
    }

    @Override
    public float[] append(int[] tokens) {
      fed.add(tokens.clone());
      return logits.clone();
    }

    @Override
    public void reset() {
      resets++;
      fed.clear();
    }

    @Override
    public void close() {}
  }

  private float[] randomLogits(int v) {
    float[] l = new float[v];
    for (int i = 0; i < v; i++) {
      l[i] = (float) (2 * random.nextGaussian());
    }
    return l;
  }

  private static double[] softmax(float[] logits, double temperature) {
    double max = Double.NEGATIVE_INFINITY;
    for (float l : logits) {
      max = Math.max(max, l);
    }
    double[] p = new double[logits.length];
    double total = 0;
    for (int i = 0; i < p.length; i++) {
      p[i] = Math.exp((logits[i] - max) / temperature);
      total += p[i];
    }
    for (int i = 0; i < p.length; i++) {
      p[i] /= total;
    }
    return p;
  }

  private static int[] counts(float[] logits, Sampling s, int draws) {
    SplittableRandom r = new SplittableRandom(s.seed());
    int[] counts = new int[logits.length];
    for (int i = 0; i < draws; i++) {
      counts[Generator.choose(logits, s, r)]++;
    }
    return counts;
  }

  @Test
  void thePromptGoesInOneCallThenEachChosenTokenAndTheListenerSeesThemInOrder() {
    FixedDecoder d = new FixedDecoder(randomLogits(7));
    List<Integer> streamed = new ArrayList<>();
    int[] out = Generator.continueFrom(d, new int[] {1, 2, 3}, 4, Sampling.of(1.0, random.nextLong()), streamed::add);
    assertEquals(1, d.resets);
    assertArrayEquals(new int[] {1, 2, 3}, d.fed.get(0));
    assertEquals(4, d.fed.size(), "the prompt, then every token but the last");
    for (int i = 1; i < 4; i++) {
      assertArrayEquals(new int[] {out[i - 1]}, d.fed.get(i));
    }
    assertEquals(List.of(out[0], out[1], out[2], out[3]), streamed);
  }

  @Test
  void samplingFollowsTheSoftmaxAtTheTemperature() {
    float[] logits = randomLogits(6);
    double temperature = 0.7;
    int draws = 40000;
    int[] counts = counts(logits, new Sampling(temperature, 0, 1, random.nextLong()), draws);
    double[] p = softmax(logits, temperature);
    for (int i = 0; i < p.length; i++) {
      double sd = Math.sqrt(draws * p[i] * (1 - p[i]));
      assertEquals(draws * p[i], counts[i], 5 * sd + 1, "token " + i);
    }
  }

  @Test
  void topKAndTopPKeepOnlyTheMostLikelyTokensRenormalised() {
    float[] logits = randomLogits(8);
    double[] p = softmax(logits, 1.0);
    Integer[] order = java.util.stream.IntStream.range(0, 8).boxed().sorted((a, b) -> Double.compare(p[b], p[a])).toArray(Integer[]::new);
    int draws = 20000;
    int[] topK = counts(logits, new Sampling(1.0, 3, 1, random.nextLong()), draws);
    double kept = p[order[0]] + p[order[1]] + p[order[2]];
    for (int rank = 0; rank < 8; rank++) {
      int token = order[rank];
      if (rank < 3) {
        double want = draws * p[token] / kept;
        assertEquals(want, topK[token], 5 * Math.sqrt(want) + 1, "top-3, token of rank " + rank);
      } else {
        assertEquals(0, topK[token], "top-3 drew the token of rank " + rank);
      }
    }
    // top-p just above the two most likely tokens' mass keeps exactly three.
    double topP = Math.min(1, p[order[0]] + p[order[1]] + 1e-6);
    int[] nucleus = counts(logits, new Sampling(1.0, 0, topP, random.nextLong()), draws);
    for (int rank = 3; rank < 8; rank++) {
      assertEquals(0, nucleus[order[rank]], "top-p " + topP + " drew the token of rank " + rank);
    }
    assertTrue(nucleus[order[2]] > 0, "top-p " + topP + " keeps the third most likely token");
  }

  @Test
  void greedyPicksTheMostLikelyAndTheSameSeedRepeats() {
    float[] logits = randomLogits(9);
    int best = 0;
    for (int i = 1; i < logits.length; i++) {
      best = logits[i] > logits[best] ? i : best;
    }
    FixedDecoder d = new FixedDecoder(logits);
    assertArrayEquals(new int[] {best, best, best}, Generator.continueFrom(d, new int[] {0}, 3, Sampling.of(0, 1), t -> {}));
    long seed = random.nextLong();
    assertArrayEquals(Generator.continueFrom(d, new int[] {0}, 50, Sampling.of(1.0, seed), t -> {}),
        Generator.continueFrom(d, new int[] {0}, 50, Sampling.of(1.0, seed), t -> {}));
  }

  @Test
  void badPromptsAndSettingsAreNamed() {
    FixedDecoder d = new FixedDecoder(randomLogits(5));
    var outside = assertThrows(IllegalArgumentException.class, () -> Generator.continueFrom(d, new int[] {1, 5}, 3, Sampling.of(1, 1), t -> {}));
    assertEquals("prompt token 5 at position 1 is outside the vocabulary [0, 5)", outside.getMessage());
    var empty = assertThrows(IllegalArgumentException.class, () -> Generator.continueFrom(d, new int[0], 3, Sampling.of(1, 1), t -> {}));
    assertEquals("the prompt is empty: give at least one token", empty.getMessage());
    assertEquals("top-p (0.0) must be in (0, 1] (1 keeps every token)",
        assertThrows(IllegalArgumentException.class, () -> new Sampling(1, 0, 0, 1)).getMessage());
    assertEquals("top-k (-1) must be >= 0 (0 keeps every token)",
        assertThrows(IllegalArgumentException.class, () -> new Sampling(1, -1, 1, 1)).getMessage());
  }
}
