package io.switchhead.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.model.DecodeGraph;
import io.switchhead.savedmodel.SavedModelExport;
import io.switchhead.savedmodel.ServingSignatures;
import io.switchhead.savedmodel.TrainedRun;
import io.switchhead.savedmodel.TrainingLogits;
import io.switchhead.testing.Seeded;
import io.switchhead.testing.TestPython;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;

/**
 * TensorFlow's own tools read what TF Java wrote, as a TF Serving deployment on a newer TensorFlow
 * does: Python TensorFlow 2.21's {@code saved_model_cli show --all} lists the export's tag and
 * signatures, {@code saved_model_cli run} (TensorFlow 1's session loader, the one TF Serving's C++
 * loader mirrors) gives the training graph's logits, and {@code tf.saved_model.load} (TensorFlow 2's
 * loader) runs the graph's own input checks. The environment is the test-only one of
 * {@code .ci/python-env} ({@link TestPython}).
 */
class SavedModelCliTest {

  private static final ModelConfig MODEL = new ModelConfig(256, 16, 2, 16, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.1),
      new DenseFeedForwardConfig(16), 0.1, 0.7);

  /**
   * The served API's tensors, wherever a signature has them, as saved_model_cli prints them:
   * [batch, time] tokens, logits per position, the last position's log-probabilities.
   */
  private static final Map<String, String> DOCUMENTED = Map.of(
      ServingSignatures.TOKENS, "DT_INT32 (-1, -1)",
      ServingSignatures.LOGITS, "DT_FLOAT (-1, -1, " + MODEL.vocabSize() + ")",
      ServingSignatures.LOGPROBS, "DT_FLOAT (-1, " + MODEL.vocabSize() + ")");

  /** One Python TensorFlow process: importing TensorFlow alone takes seconds on two shared cores. */
  private static final long PYTHON_SECONDS = 180;

  @TempDir static Path dir;
  @Seeded private static Random runRandom;
  @Seeded private Random random;
  private static Path checkpoint;
  private static Path savedModel;
  private static Path marked;

  @BeforeAll
  static void trainAndExport() throws Exception {
    TrainedRun trained = TrainedRun.train(MODEL, Files.createDirectories(dir.resolve("train")), runRandom, 2);
    checkpoint = trained.latest();
    savedModel = dir.resolve("model");
    SavedModelExport.export(trained.run(), OptionalLong.empty(), savedModel, false, warning -> {});
    marked = dir.resolve("model-xla");
    SavedModelExport.export(trained.run(), OptionalLong.empty(), marked, new SavedModelExport.Options(false, true), warning -> {});
  }

  /**
   * The listing against export.json, generically: exactly its signatures, each with its method,
   * inputs and outputs, and each tensor's dtype, shape and name as the MetaGraphDef declares them
   * (read here by TF Java's loader). The served API's own tensors have their documented types and
   * dynamic shapes wherever a signature has them.
   */
  @Test
  void showListsTheServeTagAndExactlyTheSignaturesExportJsonRecords() {
    String shown = TestPython.run(List.of(TestPython.program("saved_model_cli").toString(), "show", "--dir", savedModel.toString(),
        "--all"), PYTHON_SECONDS).requireSuccess();
    SavedModelCliListing listing = SavedModelCliListing.parse(shown);
    assertEquals(Set.of(ServingSignatures.TAG), listing.tagSets().keySet(), shown);
    Map<String, SavedModelCliListing.Signature> listed = listing.tagSets().get(ServingSignatures.TAG);
    SavedModelExport.Description described = SavedModelExport.readDescription(savedModel);
    assertEquals(described.signatures().keySet(), listed.keySet(), shown);
    assertTrue(listed.keySet().containsAll(Set.of(ServingSignatures.DEFAULT, ServingSignatures.NEXT_TOKEN_LOGPROBS)), shown);

    try (SavedModelBundle bundle = SavedModelBundle.load(savedModel.toString(), ServingSignatures.TAG)) {
      described.signatures().forEach((key, d) -> {
        SavedModelCliListing.Signature s = listed.get(key);
        SignatureDef def = bundle.metaGraphDef().getSignatureDefOrThrow(key);
        assertEquals(ServingSignatures.PREDICT, s.method(), key);
        assertEquals(d.method(), s.method(), key);
        assertEquals(Set.copyOf(d.inputs()), s.inputs().keySet(), key + " inputs");
        assertEquals(Set.copyOf(d.outputs()), s.outputs().keySet(), key + " outputs");
        s.inputs().forEach((name, t) -> assertListed(t, def.getInputsOrThrow(name), name, key + " input " + name));
        s.outputs().forEach((name, t) -> assertListed(t, def.getOutputsOrThrow(name), name, key + " output " + name));
      });
    }
  }

  /**
   * The listed tensor is the declared one (dtype, shape, name), of a dtype the export uses, and
   * as documented if it is one of the served API's.
   */
  private static void assertListed(SavedModelCliListing.Tensor listed, TensorInfo declared, String name, String what) {
    assertTrue(Set.of("DT_INT32", "DT_FLOAT").contains(listed.dtype()), what + " is listed as " + listed.dtype());
    assertEquals(declared.getDtype().name(), listed.dtype(), what);
    assertEquals(declared.getTensorShape().getDimList().stream().map(d -> d.getSize()).toList(), listed.dims(), what);
    assertEquals(declared.getName(), listed.name(), what);
    if (DOCUMENTED.containsKey(name)) {
      assertEquals(DOCUMENTED.get(name), listed.dtype() + " " + listed.shape(), what);
    }
  }

  /** saved_model_cli run on serving_default, fresh random tokens at each shape, against the training graph. */
  @Test
  void runOnServingDefaultGivesTheTrainingGraphsLogits() throws Exception {
    int[][] shapes = {{1, 1}, {3, 7}, {2, MODEL.context()}};
    List<String> npyToRaw = new ArrayList<>();
    List<int[]> requests = new ArrayList<>();
    for (int[] shape : shapes) {
      int[] tokens = random.ints((long) shape[0] * shape[1], 0, MODEL.vocabSize()).toArray();
      requests.add(tokens);
      Path out = dir.resolve("run-" + shape[0] + "x" + shape[1]);
      TestPython.run(List.of(TestPython.program("saved_model_cli").toString(), "run", "--dir", savedModel.toString(),
          "--tag_set", ServingSignatures.TAG, "--signature_def", ServingSignatures.DEFAULT,
          "--input_exprs", ServingSignatures.TOKENS + "=" + literal(tokens, shape[0], shape[1]), "--outdir", out.toString()),
          PYTHON_SECONDS).requireSuccess();
      npyToRaw.add(out.resolve(ServingSignatures.LOGITS + ".npy").toString());
      npyToRaw.add(out.resolve("logits.f32").toString());
    }
    // numpy's own reader: each file's dtype and shape, and its values as big-endian float32 for DataInputStream
    String shapesRead = TestPython.script("""
        import sys, numpy as np
        for npy, raw in zip(sys.argv[1::2], sys.argv[2::2]):
            a = np.load(npy)
            print(a.dtype, *a.shape)
            a.astype('>f4').tofile(raw)
        """, PYTHON_SECONDS, npyToRaw.toArray(new String[0])).requireSuccess();

    int v = MODEL.vocabSize();
    String expectedShapes = IntStream.range(0, shapes.length)
        .mapToObj(i -> "float32 " + shapes[i][0] + " " + shapes[i][1] + " " + v + "\n").collect(Collectors.joining());
    assertEquals(expectedShapes, shapesRead);
    for (int r = 0; r < shapes.length; r++) {
      int batch = shapes[r][0];
      int time = shapes[r][1];
      float[] want = TrainingLogits.of(MODEL, checkpoint, requests.get(r), batch, time);
      float[] got = readFloats(Path.of(npyToRaw.get(2 * r + 1)), want.length);
      for (int i = 0; i < want.length; i++) {
        assertEquals(want[i], got[i], 1e-5f * Math.max(1, Math.abs(want[i])), "shape " + batch + "x" + time + " logit " + i);
      }
    }
  }

  /** The in-graph check, through TensorFlow 2's loader: Python feeds the graph directly, no Java stands between. */
  @Test
  void tfSavedModelLoadRefusesAnIdOutsideTheVocabulary() {
    int[] tokens = random.ints(2L * 5, 0, MODEL.vocabSize()).toArray();
    tokens[random.nextInt(tokens.length)] = MODEL.vocabSize();
    TestPython.Run refused = TestPython.script("""
        import sys, ast, tensorflow as tf
        serve = tf.saved_model.load(sys.argv[1]).signatures[sys.argv[2]]
        serve(**{sys.argv[3]: tf.constant(ast.literal_eval(sys.argv[4]), dtype=tf.int32)})
        """, PYTHON_SECONDS, savedModel.toString(), ServingSignatures.DEFAULT, ServingSignatures.TOKENS, literal(tokens, 2, 5));
    assertNotEquals(0, refused.exitCode(), refused.stdout());
    assertTrue(refused.stderr().contains("InvalidArgumentError"), refused.stderr());
    assertTrue(refused.stderr().contains("tokens: every token id must be in [0, " + MODEL.vocabSize() + "), got ids from"),
        refused.stderr());
    assertTrue(refused.stderr().contains("[to] [" + MODEL.vocabSize() + "]"), refused.stderr());
  }

  /**
   * An export with {@code --xla}, through TensorFlow 2's loader in a process without this JVM's
   * auto-clustering flag, as a server runs it: XLA compiles its clusters (their modules are
   * dumped) and it gives the unmarked export's logits.
   */
  @Test
  void tfSavedModelLoadCompilesAMarkedExportToTheUnmarkedLogits() throws Exception {
    int[] tokens = random.ints(2L * 5, 0, MODEL.vocabSize()).toArray();
    Path dump = Files.createDirectories(dir.resolve("xla-dump"));
    String compared = TestPython.script("""
        import os, sys, ast, glob
        os.environ.pop('TF_XLA_FLAGS', None)
        os.environ['XLA_FLAGS'] = '--xla_dump_to=' + sys.argv[3]
        import numpy as np, tensorflow as tf
        tokens = tf.constant(ast.literal_eval(sys.argv[4]), dtype=tf.int32)
        logits = [tf.saved_model.load(d).signatures['serving_default'](tokens=tokens)['logits'].numpy() for d in sys.argv[1:3]]
        close = np.all(np.abs(logits[0] - logits[1]) <= 1e-5 * np.maximum(1, np.abs(logits[0])))
        print(len(glob.glob(os.path.join(sys.argv[3], '*.before_optimizations.txt'))) > 0, close)
        """, PYTHON_SECONDS, savedModel.toString(), marked.toString(), dump.toString(), literal(tokens, 2, 5)).requireSuccess();
    assertEquals("True True\n", compared, "XLA modules dumped, logits equal");
  }

  /**
   * The compiled {@code decode_token} of a {@code --xla} export, called by TensorFlow 2's loader on
   * the cache {@code decode_start} returned: the logits and cache {@code decode_step} gives, the
   * cache at its capacity.
   */
  @Test
  void tfSavedModelLoadRunsDecodeTokenAsDecodeStep() {
    int[] prompt = random.ints(2L * 3, 0, MODEL.vocabSize()).toArray();
    int[] next = random.ints(2, 0, MODEL.vocabSize()).toArray();
    String compared = TestPython.script("""
        import sys, ast, numpy as np, tensorflow as tf
        m = tf.saved_model.load(sys.argv[1])
        start = m.signatures['decode_start'](tokens=tf.constant(ast.literal_eval(sys.argv[2]), dtype=tf.int32))
        args = dict(tokens=tf.constant(ast.literal_eval(sys.argv[3]), dtype=tf.int32), position=start['position'],
                    cache_keys=start['cache_keys'], cache_values=start['cache_values'])
        plain, compiled = m.signatures['decode_step'](**args), m.signatures['decode_token'](**args)
        close = all(np.all(np.abs(plain[k].numpy() - compiled[k].numpy()) <= 1e-4 * np.maximum(1, np.abs(plain[k].numpy())))
                    for k in ('logits', 'cache_keys', 'cache_values'))
        print(close, int(compiled['position'].numpy()), list(compiled['cache_keys'].shape))
        """, PYTHON_SECONDS, marked.toString(), literal(prompt, 2, 3), literal(next, 2, 1)).requireSuccess();
    long capacity = DecodeGraph.cacheCapacity(MODEL);
    assertEquals("True 4 " + List.of((long) MODEL.layers(), 2L, (long) MODEL.attention().heads(), capacity, (long) MODEL.attention().headDim())
        + "\n", compared, "decode_token against decode_step in TensorFlow 2.21");
  }

  /** A Python literal of a [batch, time] int matrix: {@code [[1, 2], [3, 4]]}. */
  private static String literal(int[] tokens, int batch, int time) {
    return IntStream.range(0, batch).mapToObj(b -> IntStream.range(0, time).mapToObj(t -> Integer.toString(tokens[b * time + t]))
        .collect(Collectors.joining(", ", "[", "]"))).collect(Collectors.joining(", ", "[", "]"));
  }

  private static float[] readFloats(Path file, int count) throws Exception {
    assertEquals(4L * count, Files.size(file), file.toString());
    float[] values = new float[count];
    try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file)))) {
      for (int i = 0; i < count; i++) {
        values[i] = in.readFloat();
      }
    }
    return values;
  }
}
