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

  /** The [batch, time] shapes that saved_model_cli run feeds serving_default. */
  private static final int[][] SHAPES = {{1, 1}, {3, 7}, {2, MODEL.context()}};

  /**
   * saved_model_cli's commands in one process, each as its command line runs it: the script's own
   * {@code __main__} (absl's app.run, the command's flags) with that command's argv, its standard
   * output to a file. Arguments: the script, then per command its output file and its arguments,
   * commands separated by {@code --then}. A command that fails ends the process with its error.
   */
  private static final String CLI_COMMANDS = """
      import contextlib, runpy, sys
      script, commands = sys.argv[1], [[]]
      for arg in sys.argv[2:]:
          if arg == '--then':
              commands.append([])
          else:
              commands[-1].append(arg)
      for out, *argv in commands:
          sys.argv = [script] + argv
          with open(out, 'w') as stdout, contextlib.redirect_stdout(stdout):
              try:
                  runpy.run_path(script, run_name='__main__')
              except SystemExit as e:
                  if e.code not in (None, 0):
                      raise
      """;

  /**
   * TensorFlow 2's loader, one process for three checks, without this JVM's auto-clustering flag
   * (as a server runs): a marked export compiled by XLA (modules dumped, counted before anything
   * else compiles) against the unmarked logits; decode_token against decode_step on decode_start's
   * cache; last, an id outside the vocabulary, which must end the process with the graph's error.
   * Each check prints one line under its name.
   */
  private static final String LOADER_CHECKS = """
      import os, sys, ast, glob
      os.environ.pop('TF_XLA_FLAGS', None)
      os.environ['XLA_FLAGS'] = '--xla_dump_to=' + sys.argv[3]
      import numpy as np, tensorflow as tf
      plain, marked = tf.saved_model.load(sys.argv[1]), tf.saved_model.load(sys.argv[2])
      tokens = tf.constant(ast.literal_eval(sys.argv[4]), dtype=tf.int32)
      logits = [m.signatures['serving_default'](tokens=tokens)['logits'].numpy() for m in (plain, marked)]
      close = np.all(np.abs(logits[0] - logits[1]) <= 1e-5 * np.maximum(1, np.abs(logits[0])))
      print('xla:', len(glob.glob(os.path.join(sys.argv[3], '*.before_optimizations.txt'))) > 0, close, flush=True)

      start = marked.signatures['decode_start'](tokens=tf.constant(ast.literal_eval(sys.argv[5]), dtype=tf.int32))
      args = dict(tokens=tf.constant(ast.literal_eval(sys.argv[6]), dtype=tf.int32), position=start['position'],
                  cache_keys=start['cache_keys'], cache_values=start['cache_values'])
      step, compiled = marked.signatures['decode_step'](**args), marked.signatures['decode_token'](**args)
      close = all(np.all(np.abs(step[k].numpy() - compiled[k].numpy()) <= 1e-4 * np.maximum(1, np.abs(step[k].numpy())))
                  for k in ('logits', 'cache_keys', 'cache_values'))
      print('decode_token:', close, int(compiled['position'].numpy()), list(compiled['cache_keys'].shape), flush=True)

      plain.signatures['serving_default'](tokens=tf.constant(ast.literal_eval(sys.argv[7]), dtype=tf.int32))
      print('out of vocabulary: not refused', flush=True)
      """;

  @TempDir static Path dir;
  @Seeded private static Random runRandom;
  /** The tokens of every request, drawn once for the class: the Python processes run before the tests. */
  @Seeded private static Random requestRandom;
  private static Path checkpoint;
  private static Path savedModel;
  private static Path marked;
  /** saved_model_cli show --all's output, and each shape's tokens and outdir of saved_model_cli run. */
  private static TestPython.Run cli;
  private static Path shown;
  private static final List<int[]> requests = new ArrayList<>();
  private static final List<Path> outdirs = new ArrayList<>();
  /** LOADER_CHECKS's run, and its requests: 2 x 5 tokens; a prompt of 2 x 3 and 2 next tokens; 2 x 5 with one bad id. */
  private static TestPython.Run loaders;
  private static int[] xlaTokens;
  private static int[] prompt;
  private static int[] refusedTokens;

  /**
   * Trains and exports, then runs the Python side, two TensorFlow processes (importing TensorFlow
   * takes seconds on two shared cores): saved_model_cli show and each run; the TF2 loader's checks.
   * The tests read what they printed.
   */
  @BeforeAll
  static void trainExportAndRunThePythonTools() throws Exception {
    TrainedRun trained = TrainedRun.train(MODEL, Files.createDirectories(dir.resolve("train")), runRandom, 2);
    checkpoint = trained.latest();
    savedModel = dir.resolve("model");
    SavedModelExport.export(trained.run(), OptionalLong.empty(), savedModel, false, warning -> {});
    marked = dir.resolve("model-xla");
    SavedModelExport.export(trained.run(), OptionalLong.empty(), marked, new SavedModelExport.Options(false, true), warning -> {});

    String script = TestPython.program("saved_model_cli").toString();
    shown = dir.resolve("show.txt");
    List<String> commands = new ArrayList<>(List.of(script, shown.toString(), "show", "--dir", savedModel.toString(), "--all"));
    for (int[] shape : SHAPES) {
      int[] tokens = requestRandom.ints((long) shape[0] * shape[1], 0, MODEL.vocabSize()).toArray();
      requests.add(tokens);
      Path out = dir.resolve("run-" + shape[0] + "x" + shape[1]);
      outdirs.add(out);
      commands.addAll(List.of("--then", dir.resolve("run-" + shape[0] + "x" + shape[1] + ".txt").toString(), "run", "--dir",
          savedModel.toString(), "--tag_set", ServingSignatures.TAG, "--signature_def", ServingSignatures.DEFAULT,
          "--input_exprs", ServingSignatures.TOKENS + "=" + literal(tokens, shape[0], shape[1]), "--outdir", out.toString()));
    }
    cli = TestPython.script(CLI_COMMANDS, PYTHON_SECONDS, commands.toArray(new String[0]));

    xlaTokens = requestRandom.ints(2L * 5, 0, MODEL.vocabSize()).toArray();
    prompt = requestRandom.ints(2L * 3, 0, MODEL.vocabSize()).toArray();
    int[] next = requestRandom.ints(2, 0, MODEL.vocabSize()).toArray();
    refusedTokens = requestRandom.ints(2L * 5, 0, MODEL.vocabSize()).toArray();
    refusedTokens[requestRandom.nextInt(refusedTokens.length)] = MODEL.vocabSize();
    Path dump = Files.createDirectories(dir.resolve("xla-dump"));
    loaders = TestPython.script(LOADER_CHECKS, PYTHON_SECONDS, savedModel.toString(), marked.toString(), dump.toString(),
        literal(xlaTokens, 2, 5), literal(prompt, 2, 3), literal(next, 2, 1), literal(refusedTokens, 2, 5));
  }

  /** The line LOADER_CHECKS printed under {@code name}, without it; fails with the process's output if there is none. */
  private static String loaderLine(String name) {
    return loaders.stdout().lines().filter(line -> line.startsWith(name + ": ")).map(line -> line.substring(name.length() + 2))
        .findFirst().orElseThrow(() -> new AssertionError("no '" + name + ":' line\nstdout:\n" + loaders.stdout() + "\nstderr:\n"
            + loaders.stderr()));
  }

  /**
   * The listing against export.json, generically: exactly its signatures, each with its method,
   * inputs and outputs, and each tensor's dtype, shape and name as the MetaGraphDef declares them
   * (read here by TF Java's loader). The served API's own tensors have their documented types and
   * dynamic shapes wherever a signature has them.
   */
  @Test
  void showListsTheServeTagAndExactlyTheSignaturesExportJsonRecords() throws Exception {
    cli.requireSuccess();
    String shown = Files.readString(SavedModelCliTest.shown);
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
    int[][] shapes = SHAPES;
    cli.requireSuccess();
    List<String> npyToRaw = new ArrayList<>();
    for (Path out : outdirs) {
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
    assertNotEquals(0, loaders.exitCode(), loaders.stdout());
    assertTrue(loaders.stderr().contains("InvalidArgumentError"), loaders.stderr());
    assertTrue(loaders.stderr().contains("tokens: every token id must be in [0, " + MODEL.vocabSize() + "), got ids from"),
        loaders.stderr());
    assertTrue(loaders.stderr().contains("[to] [" + MODEL.vocabSize() + "]"), loaders.stderr());
  }

  /**
   * An export with {@code --xla}, through TensorFlow 2's loader in a process without this JVM's
   * auto-clustering flag, as a server runs it: XLA compiles its clusters (their modules are
   * dumped) and it gives the unmarked export's logits.
   */
  @Test
  void tfSavedModelLoadCompilesAMarkedExportToTheUnmarkedLogits() {
    assertEquals("True True", loaderLine("xla"), "XLA modules dumped, logits equal");
  }

  /**
   * The compiled {@code decode_token} of a {@code --xla} export, called by TensorFlow 2's loader on
   * the cache {@code decode_start} returned: the logits and cache {@code decode_step} gives, the
   * cache at its capacity.
   */
  @Test
  void tfSavedModelLoadRunsDecodeTokenAsDecodeStep() {
    long capacity = DecodeGraph.cacheCapacity(MODEL);
    assertEquals("True 4 " + List.of((long) MODEL.layers(), 2L, (long) MODEL.attention().heads(), capacity, (long) MODEL.attention().headDim()),
        loaderLine("decode_token"), "decode_token against decode_step in TensorFlow 2.21");
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
