package io.switchhead.savedmodel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.MhMoeConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.PeerConfig;
import io.switchhead.graph.config.PerBlockFeedForwardConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.generate.Generator;
import io.switchhead.graph.generate.Sampling;
import io.switchhead.graph.generate.TokenDecoder;
import io.switchhead.graph.model.DecodeGraph;
import io.switchhead.ops.Tensors;
import io.switchhead.testing.Seeded;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * {@code decode_step} run as a server runs it, by the SignatureDef's tensor names, the client
 * keeping the cache: against {@code serving_default} on every prefix, and generation through it
 * from a run directory and from the SavedModel.
 */
class DecodeStepTest {

  private static final int T = 8;
  private static final int BATCH = 2;

  /** RoPE SwitchHead attention, the sigma-MoE feed-forward in block 0 and PEER (BatchNorm statistics as trained) in block 1. */
  private static final ModelConfig ROPE = new ModelConfig(256, 16, 2, T, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.1),
      new PerBlockFeedForwardConfig(new PeerConfig(16, 2, 3, 4, PeerConfig.Activation.GELU, 0.9, 1e-3),
          new SigmaMoeConfig(4, 8, 2, 0.1, 1e-3), 1, 2), 0.1, 0.7);

  /** XL SwitchHead attention, the dense feed-forward in block 0 and MH-MoE in block 1 (trained with a capacity that drops, served dropless). */
  private static final ModelConfig XL = new ModelConfig(256, 16, 2, T, new SwitchHeadConfig(2, 3, 2, 8, Positional.XL, 0.1),
      new PerBlockFeedForwardConfig(new MhMoeConfig(4, 3, 2, 6, 0.5, 0.01, false), new DenseFeedForwardConfig(8), 1, 2), 0.1, 0.7);

  @TempDir static Path dir;
  @Seeded private static Random trainRandom;
  @Seeded private Random random;
  private static TrainedRun rope;
  private static TrainedRun xl;
  private static SavedModelBundle ropeBundle;
  private static SavedModelBundle xlBundle;

  @BeforeAll
  static void trainAndExport() throws Exception {
    rope = TrainedRun.train(ROPE, Files.createDirectories(dir.resolve("rope")), trainRandom, 2);
    xl = TrainedRun.train(XL, Files.createDirectories(dir.resolve("xl")), trainRandom, 2);
    for (TrainedRun r : List.of(rope, xl)) {
      SavedModelExport.export(r.run(), OptionalLong.empty(), r.run().resolveSibling("model"), false, warning -> {});
    }
    ropeBundle = SavedModelBundle.load(dir.resolve("rope/model").toString(), ServingSignatures.TAG);
    xlBundle = SavedModelBundle.load(dir.resolve("xl/model").toString(), ServingSignatures.TAG);
  }

  @AfterAll
  static void close() {
    ropeBundle.close();
    xlBundle.close();
  }

  /** A client of decode_step: the cache tensors it got from the last call, fed to the next. */
  private static final class Client implements AutoCloseable {
    final SavedModelBundle bundle;
    final SignatureDef def;
    TFloat32 keys;
    TFloat32 values;
    int position;

    Client(SavedModelBundle bundle, ModelConfig c, int batch) {
      this.bundle = bundle;
      this.def = bundle.metaGraphDef().getSignatureDefOrThrow(ServingSignatures.DECODE_STEP);
      keys = TFloat32.tensorOf(DecodeGraph.cacheShape(c, batch, 0));
      values = TFloat32.tensorOf(DecodeGraph.cacheShape(c, batch, 0));
    }

    String in(String name) {
      return def.getInputsOrThrow(name).getName();
    }

    String out(String name) {
      return def.getOutputsOrThrow(name).getName();
    }

    /** Feeds [batch, n] tokens at {@code at}; returns the logits [batch, n, V] and keeps the cache. */
    float[] call(int[] tokens, int batch, int n, int at) {
      try (TInt32 x = Tensors.ints(Shape.of(batch, n), tokens);
          TInt32 p = TInt32.scalarOf(at);
          Result r = bundle.session().runner().feed(in(ServingSignatures.TOKENS), x).feed(in(ServingSignatures.POSITION), p)
              .feed(in(ServingSignatures.CACHE_KEYS), keys).feed(in(ServingSignatures.CACHE_VALUES), values)
              .fetch(out(ServingSignatures.LOGITS)).fetch(out(ServingSignatures.POSITION))
              .fetch(out(ServingSignatures.CACHE_KEYS)).fetch(out(ServingSignatures.CACHE_VALUES)).run()) {
        position = ((TInt32) r.get(1)).getInt();
        keys.close();
        values.close();
        keys = copy((TFloat32) r.get(2));
        values = copy((TFloat32) r.get(3));
        return Tensors.toFloats(r.get(0));
      }
    }

    float[] call(int[] tokens, int batch, int n) {
      return call(tokens, batch, n, position);
    }

    private static TFloat32 copy(TFloat32 t) {
      TFloat32 c = TFloat32.tensorOf(t.shape());
      t.copyTo(c);
      return c;
    }

    @Override
    public void close() {
      keys.close();
      values.close();
    }
  }

  private static int[] columns(int[] rows, int time, int from, int to) {
    int n = to - from;
    int[] out = new int[BATCH * n];
    for (int b = 0; b < BATCH; b++) {
      System.arraycopy(rows, b * time + from, out, b * n, n);
    }
    return out;
  }

  /** serving_default's logits at the last position of the prefix [0, length), [BATCH, V]. */
  private static float[] servedLast(SavedModelBundle bundle, int[] rows, int length) {
    float[] all = ServedSignature.run(bundle, ServingSignatures.DEFAULT, ServingSignatures.LOGITS, columns(rows, T, 0, length), BATCH, length);
    return lastOfEachRow(all, length);
  }

  private static float[] lastOfEachRow(float[] logits, int n) {
    int v = 256;
    float[] out = new float[BATCH * v];
    for (int b = 0; b < BATCH; b++) {
      System.arraycopy(logits, (b * n + n - 1) * v, out, b * v, v);
    }
    return out;
  }

  private static void assertClose(float[] want, float[] got, String what) {
    TrainingLogits.assertClose(want, got, 2e-5f, what);
  }

  @Test
  void tokenByTokenFromAnEmptyCacheGivesServingDefaultOnEveryPrefix() {
    for (TrainedRun r : List.of(rope, xl)) {
      SavedModelBundle bundle = r == rope ? ropeBundle : xlBundle;
      int[] text = random.ints(BATCH * T, 0, 256).toArray();
      try (Client client = new Client(bundle, r.model(), BATCH)) {
        for (int t = 0; t < T; t++) {
          float[] step = client.call(columns(text, T, t, t + 1), BATCH, 1);
          assertClose(servedLast(bundle, text, t + 1), step, r.model().attention().positional() + ", position " + t);
          assertEquals(t + 1, client.position);
        }
        assertEquals(DecodeGraph.cacheShape(r.model(), BATCH, DecodeGraph.cacheCapacity(r.model())), client.keys.shape(),
            "the cache comes back at its capacity");
      }
    }
  }

  @Test
  void aPromptInOneCallThenTokenByTokenGivesServingDefaultOnEveryPrefix() {
    for (TrainedRun r : List.of(rope, xl)) {
      SavedModelBundle bundle = r == rope ? ropeBundle : xlBundle;
      int[] text = random.ints(BATCH * T, 0, 256).toArray();
      int prompt = 2 + random.nextInt(T - 3);
      try (Client client = new Client(bundle, r.model(), BATCH)) {
        float[] all = client.call(columns(text, T, 0, prompt), BATCH, prompt);
        float[] served = ServedSignature.run(bundle, ServingSignatures.DEFAULT, ServingSignatures.LOGITS, columns(text, T, 0, prompt), BATCH, prompt);
        assertClose(served, all, "the prompt of " + prompt + " in one call");
        for (int t = prompt; t < T; t++) {
          assertClose(servedLast(bundle, text, t + 1), client.call(columns(text, T, t, t + 1), BATCH, 1), "after the prompt, position " + t);
        }
      }
    }
  }

  /** decode_start on a prompt, then decode_step on its cache: what decode_step from an empty cache gives. */
  @Test
  void decodeStartIsDecodeStepFromAnEmptyCache() {
    int prompt = 3;
    int[] text = random.ints(BATCH * T, 0, 256).toArray();
    SignatureDef start = ropeBundle.metaGraphDef().getSignatureDefOrThrow(ServingSignatures.DECODE_START);
    assertEquals(List.of(ServingSignatures.TOKENS), List.copyOf(start.getInputsMap().keySet()));
    try (Client client = new Client(ropeBundle, ROPE, BATCH);
        TInt32 x = Tensors.ints(Shape.of(BATCH, prompt), columns(text, T, 0, prompt));
        Result r = ropeBundle.session().runner().feed(start.getInputsOrThrow(ServingSignatures.TOKENS).getName(), x)
            .fetch(start.getOutputsOrThrow(ServingSignatures.LOGITS).getName()).fetch(start.getOutputsOrThrow(ServingSignatures.POSITION).getName())
            .fetch(start.getOutputsOrThrow(ServingSignatures.CACHE_KEYS).getName())
            .fetch(start.getOutputsOrThrow(ServingSignatures.CACHE_VALUES).getName()).run()) {
      float[] fromEmpty = client.call(columns(text, T, 0, prompt), BATCH, prompt);
      assertClose(fromEmpty, Tensors.toFloats(r.get(0)), "decode_start's logits");
      assertEquals(prompt, ((TInt32) r.get(1)).getInt());
      assertClose(Tensors.toFloats(client.keys), Tensors.toFloats(r.get(2)), "decode_start's keys");
      assertClose(Tensors.toFloats(client.values), Tensors.toFloats(r.get(3)), "decode_start's values");
    }
  }

  @Test
  void aCacheThatDoesNotFitThePositionOrTheBatchIsRefusedByTheGraph() {
    try (Client empty = new Client(ropeBundle, ROPE, BATCH)) {
      RuntimeException skipped = assertThrows(RuntimeException.class, () -> empty.call(new int[] {1, 2}, BATCH, 1, 5));
      assertTrue(skipped.getMessage().contains("cache_keys: dimension 3 must be the capacity, 7, or the cached tokens, min(position, 7)"),
          skipped.getMessage());
    }
    try (Client client = new Client(ropeBundle, ROPE, BATCH)) {
      client.call(random.ints(BATCH * 3, 0, 256).toArray(), BATCH, 3);
      RuntimeException batch = assertThrows(RuntimeException.class, () -> client.call(new int[] {1}, 1, 1, 3));
      assertTrue(batch.getMessage().contains("must equal the batch of tokens"), batch.getMessage());
      RuntimeException ids = assertThrows(RuntimeException.class, () -> client.call(new int[] {1, 256}, BATCH, 1, 3));
      assertTrue(ids.getMessage().contains("every token id must be in [0, 256)"), ids.getMessage());
    }
    try (Client fresh = new Client(ropeBundle, ROPE, BATCH)) {
      RuntimeException negative = assertThrows(RuntimeException.class, () -> fresh.call(new int[] {1, 2}, BATCH, 1, -1));
      assertTrue(negative.getMessage().contains("position must be >= 0"), negative.getMessage());
    }
    try (Client mismatched = new Client(ropeBundle, ROPE, BATCH)) {
      mismatched.values.close();
      mismatched.values = TFloat32.tensorOf(DecodeGraph.cacheShape(ROPE, 1, 0));
      RuntimeException shapes = assertThrows(RuntimeException.class, () -> mismatched.call(new int[] {1, 2}, BATCH, 1, 0));
      assertTrue(shapes.getMessage().contains("cache_keys and cache_values must have one shape"), shapes.getMessage());
    }
  }

  @Test
  void theSignatureDeclaresItsCacheWithTheSameNamesInAndOut() {
    SignatureDef def = ropeBundle.metaGraphDef().getSignatureDefOrThrow(ServingSignatures.DECODE_STEP);
    assertEquals(ServingSignatures.PREDICT, def.getMethodName());
    List<String> names = List.of(ServingSignatures.TOKENS, ServingSignatures.POSITION, ServingSignatures.CACHE_KEYS, ServingSignatures.CACHE_VALUES);
    assertEquals(names.stream().sorted().toList(), def.getInputsMap().keySet().stream().sorted().toList());
    assertEquals(List.of(ServingSignatures.CACHE_KEYS, ServingSignatures.CACHE_VALUES, ServingSignatures.LOGITS, ServingSignatures.POSITION),
        def.getOutputsMap().keySet().stream().sorted().toList());
    assertTensor(def.getInputsOrThrow(ServingSignatures.TOKENS), DataType.DT_INT32, -1, -1);
    assertTensor(def.getInputsOrThrow(ServingSignatures.POSITION), DataType.DT_INT32);
    assertTensor(def.getOutputsOrThrow(ServingSignatures.POSITION), DataType.DT_INT32);
    assertTensor(def.getOutputsOrThrow(ServingSignatures.LOGITS), DataType.DT_FLOAT, -1, -1, 256);
    for (String cache : List.of(ServingSignatures.CACHE_KEYS, ServingSignatures.CACHE_VALUES)) {
      assertTensor(def.getInputsOrThrow(cache), DataType.DT_FLOAT, 2, -1, 2, -1, 8);
      // In: any rows up to the capacity (an empty cache starts); out: always the capacity, T - 1 = 7.
      assertTensor(def.getOutputsOrThrow(cache), DataType.DT_FLOAT, 2, -1, 2, 7, 8);
    }
  }

  private static void assertTensor(TensorInfo info, DataType type, long... dims) {
    assertEquals(type, info.getDtype(), info.getName());
    assertArrayEquals(dims, info.getTensorShape().getDimList().stream().mapToLong(d -> d.getSize()).toArray(), info.getName());
  }

  /** Past the context too: the prompt and 3T tokens, sampled, from the run directory and from its export. */
  @Test
  void theSameSeedGivesTheSameTextFromTheRunAndFromTheSavedModel() {
    for (TrainedRun r : List.of(rope, xl)) {
      int[] prompt = random.ints(T + 3, 0, 256).toArray(); // longer than the context: decode_step takes it in pieces
      Sampling sampling = new Sampling(1.0, 20, 0.95, random.nextLong());
      int[] fromRun;
      int[] fromSavedModel;
      try (ServedModel inProcess = ServedModel.fromRun(r.run(), OptionalLong.empty(), warning -> {});
          TokenDecoder d = inProcess.cachedDecoder()) {
        fromRun = Generator.continueFrom(d, prompt, 3 * T, sampling, t -> {});
      }
      try (ServedModel loaded = ServedModel.load(r.run().resolveSibling("model"));
          TokenDecoder d = loaded.cachedDecoder()) {
        fromSavedModel = Generator.continueFrom(d, prompt, 3 * T, sampling, t -> {});
        assertArrayEquals(fromSavedModel, Generator.continueFrom(d, prompt, 3 * T, sampling, t -> {}), "a decoder reset starts over");
      }
      assertArrayEquals(fromRun, fromSavedModel, r.model().attention().positional().toString());
    }
  }

  /** Within the context the cache changes nothing: greedy text equals the full-window recompute's. */
  @Test
  void withinTheContextCachedAndFullWindowDecodingAgree() {
    try (ServedModel model = ServedModel.load(rope.run().resolveSibling("model"));
        TokenDecoder cached = model.cachedDecoder();
        TokenDecoder full = model.fullWindowDecoder()) {
      int[] prompt = random.ints(2, 0, 256).toArray();
      float[] a = cached.append(prompt);
      float[] b = full.append(prompt);
      for (int n = 0; n < T - 2; n++) {
        double[] logSoftmax = logSoftmax(a);
        for (int i = 0; i < b.length; i++) {
          assertEquals(b[i], logSoftmax[i], 1e-4, "token " + n + ", logprob of " + i);
        }
        int next = argmax(b);
        a = cached.append(new int[] {next});
        b = full.append(new int[] {next});
      }
    }
  }

  private static double[] logSoftmax(float[] logits) {
    double max = Arrays.stream(toDoubles(logits)).max().orElseThrow();
    double sum = Arrays.stream(toDoubles(logits)).map(l -> Math.exp(l - max)).sum();
    return Arrays.stream(toDoubles(logits)).map(l -> l - max - Math.log(sum)).toArray();
  }

  private static double[] toDoubles(float[] f) {
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      d[i] = f[i];
    }
    return d;
  }

  private static int argmax(float[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) {
      best = v[i] > v[best] ? i : best;
    }
    return best;
  }
}
