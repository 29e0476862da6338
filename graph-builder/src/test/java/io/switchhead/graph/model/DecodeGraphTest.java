package io.switchhead.graph.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.AttentionConfig;
import io.switchhead.graph.config.AttentionK;
import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.DenseAttentionConfig;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.FeedForwardConfig;
import io.switchhead.graph.config.MhMoeConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.PeerConfig;
import io.switchhead.graph.config.PerBlockFeedForwardConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.testing.Seeded;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
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
 * Cached decoding against the full forward pass over the same parameters: token by token from an
 * empty cache, a prompt in one call and then token by token, and past the context, where the window
 * slides (checked on one-layer models, whose sliding window has a full-forward equivalent).
 */
class DecodeGraphTest {

  private static final int VOCAB = 13;
  private static final int T = 6;
  private static final int BATCH = 2;
  @Seeded private Random random;
  /** The seeds of {@link #shared}'s parameters, drawn once for the class. */
  @Seeded private static Random sharedRandom;

  /**
   * One harness (the decoding context) per two-layer model of {@link #models}, shared by the tests
   * that start from an empty cache ({@link Harness#reset} first): each built graph and its session's
   * first runs serve three tests instead of one. With the seed of its parameters.
   */
  private static final Map<ModelConfig, Harness> shared = new LinkedHashMap<>();
  private static final Map<ModelConfig, Long> sharedSeeds = new LinkedHashMap<>();

  @BeforeAll
  static void drawSharedSeeds() {
    for (ModelConfig c : models(2)) {
      sharedSeeds.put(c, sharedRandom.nextLong());
    }
  }

  /** The shared harness of a two-layer model, built on first use, its cache empty. */
  private static Harness shared(ModelConfig c) {
    Harness h = shared.computeIfAbsent(c, m -> new Harness(m, sharedSeeds.get(m)));
    h.reset();
    return h;
  }

  @AfterAll
  static void closeShared() {
    shared.values().forEach(Harness::close);
    shared.clear();
  }

  private static ModelConfig model(int layers, AttentionConfig attention, FeedForwardConfig feedForward) {
    return new ModelConfig(VOCAB, 16, layers, T, attention, feedForward, 0.1, 0.7);
  }

  private static List<ModelConfig> models(int layers) {
    SigmaMoeConfig sigmaMoe = new SigmaMoeConfig(4, 6, 2, 0.1, 1e-3);
    DenseFeedForwardConfig dense = new DenseFeedForwardConfig(12);
    return List.of(
        model(layers, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.1), sigmaMoe),
        model(layers, new SwitchHeadConfig(2, 3, 2, 8, Positional.XL, 0.1), dense),
        model(layers, new SwitchHeadConfig(2, 1, 1, 8, Positional.ROPE, 0), new SigmaMoeConfig(1, 6, 1, 0, 1e-3)),
        model(layers, new DenseAttentionConfig(3, 8, Positional.ROPE), dense),
        model(layers, new DenseAttentionConfig(3, 8, Positional.XL), sigmaMoe),
        model(layers, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.1), new PerBlockFeedForwardConfig(sigmaMoe, dense, 0, 2)),
        // MH-MoE with a capacity small enough to drop in training: evaluation is dropless, so decoding equals the forward pass.
        model(layers, new DenseAttentionConfig(3, 8, Positional.ROPE), new MhMoeConfig(4, 3, 2, 5, 0.5, 0.01, true)),
        model(layers, new DenseAttentionConfig(3, 8, Positional.ROPE), new PeerConfig(16, 2, 3, 4, PeerConfig.Activation.RELU, 0.9, 1e-3)));
  }

  /**
   * Dynamic-k models (our design), with the fixed-k model of the same shapes and parameter names:
   * decoding computes importance from each call's queries, so a whole prompt in one call gives the
   * full forward pass and token by token it does not (see SwitchHeadAttention.decode).
   */
  private static List<List<ModelConfig>> dynamicKModels(int layers) {
    SigmaMoeConfig fixedFf = new SigmaMoeConfig(4, 6, 2, 0.1, 1e-3);
    return List.of(
        List.of(model(layers, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.1, AttentionK.ceil()), new SigmaMoeConfig(4, 6, 2, 0.1, 1e-3, AttentionK.ceil())),
            model(layers, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.1), fixedFf)),
        List.of(model(layers, new SwitchHeadConfig(2, 3, 3, 8, Positional.XL, 0.1, AttentionK.ceil()), new DenseFeedForwardConfig(12)),
            model(layers, new SwitchHeadConfig(2, 3, 3, 8, Positional.XL, 0.1), new DenseFeedForwardConfig(12))),
        List.of(model(layers, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0, AttentionK.budget(1.5)), new SigmaMoeConfig(4, 6, 2, 0, 1e-3, AttentionK.budget(1.5))),
            model(layers, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0), new SigmaMoeConfig(4, 6, 2, 0, 1e-3))),
        List.of(model(layers, new DenseAttentionConfig(3, 8, Positional.XL), new SigmaMoeConfig(4, 6, 2, 0.1, 1e-3, AttentionK.ceil())),
            model(layers, new DenseAttentionConfig(3, 8, Positional.XL), fixedFf)));
  }

  /** One model's decode graph and full forward graph over the same variables. */
  private static final class Harness implements AutoCloseable {
    final ModelConfig c;
    final Graph g = new Graph();
    final Session s;
    final Placeholder<TInt32> window;
    final Operand<TFloat32> forward;
    final Placeholder<TInt32> tokens;
    final Placeholder<TInt32> position;
    final Placeholder<TFloat32> keys;
    final Placeholder<TFloat32> values;
    final DecodeGraph.Output decode;
    final Placeholder<TInt32> chunk;
    final Placeholder<TInt32> memoryTokens;
    final Operand<TFloat32> forwardWithMemory;
    TFloat32 cacheKeys;
    TFloat32 cacheValues;
    int next;

    Harness(ModelConfig c, long seed) {
      this(c, seed, true);
    }

    /** @param decodingDispatch the decoding context's run-time choice of matmul, or the segmented matmul always */
    Harness(ModelConfig c, long seed, boolean decodingDispatch) {
      this.c = c;
      Ops tf = GraphOps.create(g);
      ParamStore store = ParamStore.variables(tf, seed);
      window = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, T)));
      forward = ForwardGraph.build(c, store, LayerContext.eval(tf), ForwardGraph.Inputs.tokens(window)).logits();
      Ops d = tf.withSubScope("decode");
      tokens = d.placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, -1)));
      position = d.placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
      Shape cache = DecodeGraph.cacheShape(c, -1, -1);
      keys = d.placeholder(TFloat32.class, Placeholder.shape(cache));
      values = d.placeholder(TFloat32.class, Placeholder.shape(cache));
      decode = DecodeGraph.build(c, store.sharedWith(d), decodingDispatch ? LayerContext.decode(d) : LayerContext.eval(d), new DecodeGraph.Inputs(tokens, position, keys, values));
      // One layer's XL memory is the embedding of the previous chunk's tokens.
      Ops m = tf.withSubScope("with_memory");
      chunk = m.placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, T)));
      memoryTokens = m.placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, T)));
      Operand<TFloat32> embedding = store.params().stream().filter(p -> p.spec().path().equals("embedding")).findFirst().orElseThrow().value()
          .asOutput().expect(TFloat32.class);
      Operand<TFloat32> memory = m.gather(embedding, memoryTokens, m.constant(0));
      forwardWithMemory = c.hasMemory() && c.layers() == 1
          ? ForwardGraph.build(c, store.sharedWith(m), LayerContext.eval(m), ForwardGraph.Inputs.tokens(chunk).withMemories(List.of(memory))).logits()
          : null;
      s = new Session(g);
      store.initialize(s);
      reset();
    }

    void reset() {
      closeCache();
      cacheKeys = TFloat32.tensorOf(DecodeGraph.cacheShape(c, BATCH, 0));
      cacheValues = TFloat32.tensorOf(DecodeGraph.cacheShape(c, BATCH, 0));
      next = 0;
    }

    /** Feeds [BATCH, n] tokens; returns their logits [BATCH * n * V] and keeps the new cache. */
    float[] decode(int[][] rows) {
      int n = rows[0].length;
      int[] flat = new int[BATCH * n];
      for (int b = 0; b < BATCH; b++) {
        System.arraycopy(rows[b], 0, flat, b * n, n);
      }
      try (TInt32 x = Tensors.ints(Shape.of(BATCH, n), flat);
          TInt32 p = TInt32.scalarOf(next);
          Result r = s.runner().feed(tokens, x).feed(position, p).feed(keys, cacheKeys).feed(values, cacheValues)
              .fetch(decode.logits()).fetch(decode.position()).fetch(decode.keys()).fetch(decode.values()).run()) {
        assertEquals(next + n, ((TInt32) r.get(1)).getInt(), "the next position");
        closeCache();
        cacheKeys = copy((TFloat32) r.get(2));
        cacheValues = copy((TFloat32) r.get(3));
        next += n;
        return Tensors.toFloats(r.get(0));
      }
    }

    /** Logits [BATCH, T, V] of the full forward pass over [BATCH, T] tokens. */
    float[] forward(int[][] rows) {
      try (TInt32 x = Tensors.ints(Shape.of(BATCH, T), flat(rows));
          Result r = s.runner().feed(window, x).fetch(forward).run()) {
        return Tensors.toFloats(r.get(0));
      }
    }

    /** How clearly the full forward over [BATCH, T] tokens routes ({@link RoutingMargin}). */
    double forwardMargin(int[][] rows) {
      try (TInt32 x = Tensors.ints(Shape.of(BATCH, T), flat(rows))) {
        return RoutingMargin.of(g, name -> !name.startsWith("decode/") && !name.startsWith("with_memory/"), s.runner().feed(window, x));
      }
    }

    /** How clearly the one-layer XL forward over a chunk after its memory routes. */
    double memoryMargin(int[][] chunkRows, int[][] memoryRows) {
      try (TInt32 xt = Tensors.ints(Shape.of(BATCH, T), flat(chunkRows));
          TInt32 mt = Tensors.ints(Shape.of(BATCH, T), flat(memoryRows))) {
        return RoutingMargin.of(g, name -> name.startsWith("with_memory/"), s.runner().feed(chunk, xt).feed(memoryTokens, mt));
      }
    }

    private static int[] flat(int[][] rows) {
      int[] flat = new int[BATCH * T];
      for (int b = 0; b < BATCH; b++) {
        System.arraycopy(rows[b], 0, flat, b * T, T);
      }
      return flat;
    }

    /** Logits [BATCH, T, V] of a one-layer XL model over a chunk after the memory of the chunk before it. */
    float[] forwardWithMemory(int[][] chunkRows, int[][] memoryRows) {
      try (TInt32 xt = Tensors.ints(Shape.of(BATCH, T), flat(chunkRows));
          TInt32 mt = Tensors.ints(Shape.of(BATCH, T), flat(memoryRows));
          Result r = s.runner().feed(chunk, xt).feed(memoryTokens, mt).fetch(forwardWithMemory).run()) {
        return Tensors.toFloats(r.get(0));
      }
    }

    /** Cuts the cache to its newest {@code rows} rows, as a client keeping only the tokens so far would. */
    void keepNewestRows(int rows) {
      TFloat32 k = newest(cacheKeys, rows);
      TFloat32 v = newest(cacheValues, rows);
      closeCache();
      cacheKeys = k;
      cacheValues = v;
    }

    private static TFloat32 newest(TFloat32 t, int rows) {
      Shape shape = t.shape();
      long have = shape.get(3);
      TFloat32 out = TFloat32.tensorOf(Shape.of(shape.get(0), shape.get(1), shape.get(2), rows, shape.get(4)));
      for (long l = 0; l < shape.get(0); l++) {
        for (long b = 0; b < shape.get(1); b++) {
          for (long h = 0; h < shape.get(2); h++) {
            for (long r = 0; r < rows; r++) {
              for (long i = 0; i < shape.get(4); i++) {
                out.setFloat(t.getFloat(l, b, h, have - rows + r, i), l, b, h, r, i);
              }
            }
          }
        }
      }
      return out;
    }

    private static TFloat32 copy(TFloat32 t) {
      TFloat32 out = TFloat32.tensorOf(t.shape());
      t.copyTo(out);
      return out;
    }

    private void closeCache() {
      if (cacheKeys != null) {
        cacheKeys.close();
        cacheValues.close();
      }
    }

    @Override
    public void close() {
      closeCache();
      s.close();
      g.close();
    }
  }

  /**
   * The full forward's smallest routing margin that a test accepts: 1000 times the float32
   * difference between it and the cached computation ({@link RoutingMargin}).
   */
  private static final double MARGIN = 1e-4;

  private static final int DRAWS = 60;

  /**
   * Random tokens [BATCH, length] whose every window of T tokens (after its T before, with {@code
   * withMemory}) the full forward routes by more than {@link #MARGIN}: redrawn until they are, so a
   * near-tie that the two computations' float orders would break differently is not taken for a
   * decoding bug. Decoding must then choose exactly as the full forward does.
   */
  private int[][] clearlyRouted(Harness h, int length, boolean withMemory) {
    double worst = Double.POSITIVE_INFINITY;
    for (int draw = 0; draw < DRAWS; draw++) {
      int[][] text = randomTokens(length);
      worst = Double.POSITIVE_INFINITY;
      for (int end = withMemory ? 2 * T : T; end <= length; end++) {
        worst = Math.min(worst, withMemory ? h.memoryMargin(columns(text, end - T, end), columns(text, end - 2 * T, end - T))
            : h.forwardMargin(columns(text, end - T, end)));
      }
      if (worst > MARGIN) {
        return text;
      }
    }
    throw new AssertionError(h.c + ": no draw of " + DRAWS + " routes by more than " + MARGIN + " (the last by " + worst + ")");
  }

  private int[][] randomTokens(int length) {
    int[][] rows = new int[BATCH][];
    for (int b = 0; b < BATCH; b++) {
      rows[b] = random.ints(length, 0, VOCAB).toArray();
    }
    return rows;
  }

  private static int[][] columns(int[][] rows, int from, int to) {
    int[][] out = new int[rows.length][];
    for (int b = 0; b < rows.length; b++) {
      out[b] = Arrays.copyOfRange(rows[b], from, to);
    }
    return out;
  }

  /** Logits of row b, position t of a [BATCH, steps, V] result. */
  private static float[] at(float[] logits, int steps, int b, int t) {
    int from = (b * steps + t) * VOCAB;
    return Arrays.copyOfRange(logits, from, from + VOCAB);
  }

  private static void assertClose(float[] want, float[] got, String what) {
    assertEquals(want.length, got.length, what);
    for (int i = 0; i < want.length; i++) {
      assertEquals(want[i], got[i], 2e-5f * Math.max(1, Math.abs(want[i])), what + ", logit " + i);
    }
  }

  @Test
  void tokenByTokenFromAnEmptyCacheGivesTheFullForwardAtEveryPosition() {
    for (ModelConfig c : models(2)) {
      for (boolean decodingDispatch : new boolean[] {true, false}) {
        tokenByToken(c, decodingDispatch);
      }
    }
  }

  /** With the decoding context's dispatch on the shared harness; the segmented matmul on a harness of its own. */
  private void tokenByToken(ModelConfig c, boolean decodingDispatch) {
    if (decodingDispatch) {
      tokenByToken(shared(c), decodingDispatch);
    } else {
      try (Harness h = new Harness(c, random.nextLong(), decodingDispatch)) {
        tokenByToken(h, decodingDispatch);
      }
    }
  }

  private void tokenByToken(Harness h, boolean decodingDispatch) {
    ModelConfig c = h.c;
    int[][] text = clearlyRouted(h, T, false);
    float[] full = h.forward(text);
    for (int t = 0; t < T; t++) {
      float[] step = h.decode(columns(text, t, t + 1));
      for (int b = 0; b < BATCH; b++) {
        assertClose(at(full, T, b, t), at(step, 1, b, 0),
            c.attention() + " " + c.feedForward() + (decodingDispatch ? "" : ", segmented") + ", row " + b + ", position " + t);
      }
    }
  }

  @Test
  void aPromptInOneCallThenTokenByTokenGivesTheFullForward() {
    for (ModelConfig c : models(2)) {
      Harness h = shared(c);
      int[][] text = clearlyRouted(h, T, false);
      float[] full = h.forward(text);
      int prompt = 1 + random.nextInt(T - 1);
      float[] first = h.decode(columns(text, 0, prompt));
      for (int t = 0; t < prompt; t++) {
        for (int b = 0; b < BATCH; b++) {
          assertClose(at(full, T, b, t), at(first, prompt, b, t), c.attention() + ", prompt of " + prompt + ", row " + b + ", position " + t);
        }
      }
      for (int t = prompt; t < T; t++) {
        float[] step = h.decode(columns(text, t, t + 1));
        for (int b = 0; b < BATCH; b++) {
          assertClose(at(full, T, b, t), at(step, 1, b, 0), c.attention() + ", after a prompt of " + prompt + ", position " + t);
        }
      }
    }
  }

  @Test
  void aDynamicKModelDecodesAPromptInOneCallAsTheFullForwardPass() {
    for (List<ModelConfig> pair : dynamicKModels(2)) {
      ModelConfig c = pair.get(0);
      try (Harness h = new Harness(c, random.nextLong())) {
        int[][] text = clearlyRouted(h, T, false);
        float[] full = h.forward(text);
        float[] prompt = h.decode(text);
        for (int t = 0; t < T; t++) {
          for (int b = 0; b < BATCH; b++) {
            assertClose(at(full, T, b, t), at(prompt, T, b, t), c.attention() + " " + c.feedForward() + ", row " + b + ", position " + t);
          }
        }
      }
    }
  }

  @Test
  void tokenByTokenADynamicKModelReadsOnlyTheQueriesSoFar() {
    for (List<ModelConfig> pair : dynamicKModels(2)) {
      ModelConfig dynamic = pair.get(0);
      if (ConfigJson.write(dynamic).contains("BUDGET")) {
        continue; // the budget variant gives one token round(kAvg), not K_max
      }
      long seed = random.nextLong();
      int[][] text;
      float[] fixedFull;
      try (Harness fixed = new Harness(pair.get(1), seed)) {
        text = clearlyRouted(fixed, T, false);
        fixedFull = fixed.forward(text);
      }
      try (Harness h = new Harness(dynamic, seed)) {
        // The first token from an empty cache is its only query's only key: importance 1, K = K_max
        // in every selection, so it is the fixed-k model's first position.
        float[] first = h.decode(columns(text, 0, 1));
        for (int b = 0; b < BATCH; b++) {
          assertClose(at(fixedFull, T, b, 0), at(first, 1, b, 0), dynamic.attention() + ", row " + b + ", the first token");
        }
        for (int t = 1; t < T; t++) {
          float[] step = h.decode(columns(text, t, t + 1));
          for (float v : step) {
            assertTrue(Float.isFinite(v), dynamic.attention() + ", position " + t);
          }
        }
      }
    }
  }

  @Test
  void pastTheContextTheWindowSlidesAndTheCacheStaysAtItsCapacity() {
    for (ModelConfig c : models(1)) {
      if (c.hasMemory()) {
        continue; // XL's window is memory plus chunk: see the next test
      }
      try (Harness h = new Harness(c, random.nextLong())) {
        int length = 3 * T;
        int[][] text = clearlyRouted(h, length, false);
        for (int p = 0; p < length; p++) {
          float[] step = h.decode(columns(text, p, p + 1));
          if (p >= T - 1) {
            // One layer: position p sees exactly tokens p-T+1..p, and RoPE depends only on distances.
            float[] window = h.forward(columns(text, p - T + 1, p + 1));
            for (int b = 0; b < BATCH; b++) {
              assertClose(at(window, T, b, T - 1), at(step, 1, b, 0), c.attention() + ", position " + p + " past the context");
            }
          }
        }
        assertEquals(DecodeGraph.cacheShape(c, BATCH, DecodeGraph.cacheCapacity(c)), h.cacheKeys.shape());
        assertEquals(DecodeGraph.cacheShape(c, BATCH, DecodeGraph.cacheCapacity(c)), h.cacheValues.shape());
      }
    }
  }

  /**
   * The cache returns at its capacity from the first call on (constant shapes for a compiled step),
   * its padding unseen: the same cache cut to the rows of the tokens so far gives the same logits.
   */
  @Test
  void theCacheComesBackAtCapacityAndItsPaddingIsNeverSeen() {
    for (ModelConfig c : models(2)) {
      Harness padded = shared(c);
      try (Harness trimmed = new Harness(c, sharedSeeds.get(c))) {
        // The two caches differ in length, so their attention sums in other orders: as the full forward's.
        int[][] text = clearlyRouted(padded, T, false);
        int prompt = 2;
        padded.decode(columns(text, 0, prompt));
        trimmed.decode(columns(text, 0, prompt));
        for (int p = prompt; p < T; p++) {
          assertEquals(DecodeGraph.cacheShape(c, BATCH, DecodeGraph.cacheCapacity(c)), padded.cacheKeys.shape(), c.attention() + ", position " + p);
          trimmed.keepNewestRows(p);
          float[] want = trimmed.decode(columns(text, p, p + 1));
          float[] got = padded.decode(columns(text, p, p + 1));
          assertClose(want, got, c.attention() + ", position " + p + ": the padded cache against the cut one");
        }
      }
    }
  }

  @Test
  void pastTheContextAnXlModelSeesMemoryAndChunkAsInTraining() {
    for (ModelConfig c : models(1)) {
      if (!c.hasMemory()) {
        continue;
      }
      try (Harness h = new Harness(c, random.nextLong())) {
        int length = 4 * T;
        int[][] text = clearlyRouted(h, length, true);
        for (int p = 0; p < length; p++) {
          float[] step = h.decode(columns(text, p, p + 1));
          if (p >= 2 * T - 1) {
            // The last query of a training chunk sees the memory and the whole chunk: 2T keys, the window.
            float[] window = h.forwardWithMemory(columns(text, p - T + 1, p + 1), columns(text, p - 2 * T + 1, p - T + 1));
            for (int b = 0; b < BATCH; b++) {
              assertClose(at(window, T, b, T - 1), at(step, 1, b, 0), c.attention() + ", position " + p + " past the context");
            }
          }
        }
        assertEquals(DecodeGraph.cacheShape(c, BATCH, 2L * T - 1), h.cacheKeys.shape());
      }
    }
  }
}
