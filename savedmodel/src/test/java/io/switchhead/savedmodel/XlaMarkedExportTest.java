package io.switchhead.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.generate.TokenDecoder;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.moe.SegmentedConditionalMatmul;
import io.switchhead.testing.Seeded;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.DeviceStepStats;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.NodeExecStats;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.types.TInt32;

/**
 * An export with {@code --xla}, as a server runs it: the full window's computation carries XLA's
 * mark and nothing else does, it gives the unmarked export's answers, and XLA compiles its
 * clusters and runs them compiled for routings it has not seen.
 */
class XlaMarkedExportTest {

  private static final int T = 8;

  /** RoPE SwitchHead attention and the sigma-MoE feed-forward: segmented dispatch in both. */
  private static final ModelConfig ROPE = new ModelConfig(256, 16, 2, T, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.1),
      new SigmaMoeConfig(4, 8, 2, 0.1, 1e-3), 0.1, 0.7);

  /** XL SwitchHead attention (served without memory), dense feed-forward. */
  private static final ModelConfig XL = new ModelConfig(256, 16, 2, T, new SwitchHeadConfig(2, 3, 2, 8, Positional.XL, 0.1),
      new DenseFeedForwardConfig(8), 0.1, 0.7);

  /** One trained run's checkpoint exported twice. */
  private record Exports(ModelConfig model, Path plain, Path marked) {}

  @TempDir static Path dir;
  @Seeded private static Random trainRandom;
  @Seeded private Random random;
  private static List<Exports> exports;

  @BeforeAll
  static void trainAndExport() throws Exception {
    exports = List.of(export(ROPE, "rope"), export(XL, "xl"));
  }

  private static Exports export(ModelConfig model, String name) throws Exception {
    TrainedRun r = TrainedRun.train(model, Files.createDirectories(dir.resolve(name)), trainRandom, 1);
    Path plain = dir.resolve(name + "-plain");
    Path marked = dir.resolve(name + "-xla");
    SavedModelExport.export(r.run(), OptionalLong.empty(), plain, SavedModelExport.Options.plain(), warning -> {});
    SavedModelExport.export(r.run(), OptionalLong.empty(), marked, new SavedModelExport.Options(false, true), warning -> {});
    return new Exports(model, plain, marked);
  }

  private static GraphDef graphOf(Path savedModel) throws Exception {
    return SavedModel.parseFrom(Files.readAllBytes(savedModel.resolve("saved_model.pb"))).getMetaGraphs(0).getGraphDef();
  }

  @Test
  void theFullWindowsComputationIsMarkedAndNothingElse() throws Exception {
    for (Exports e : exports) {
      GraphDef marked = graphOf(e.marked());
      Map<String, NodeDef> nodes = new TreeMap<>();
      marked.getNodeList().forEach(n -> nodes.put(n.getName(), n));
      assertTrue(XlaMarks.isMarked(nodes.get(ServingSignatures.LOGITS)), "serving_default's output");
      assertTrue(XlaMarks.isMarked(nodes.get(ServingSignatures.LOGPROBS)), "next_token_logprobs's output");
      boolean dispatchSeen = false;
      for (NodeDef n : nodes.values()) {
        boolean dispatch = n.getName().contains("/" + SegmentedConditionalMatmul.SCOPE);
        dispatchSeen |= dispatch;
        if (XlaMarks.isMarked(n)) {
          assertFalse(Set.of("Placeholder", "VariableV2", "Assert").contains(n.getOp()), n.getName() + " is a " + n.getOp());
          assertFalse(dispatch, n.getName() + ": the segmented dispatch's sizes are data");
          assertFalse(n.getName().startsWith("decode_"), n.getName() + ": decode_step and decode_start are not marked");
        }
      }
      assertTrue(dispatchSeen, "the graph has a segmented dispatch to leave out");
      assertTrue(graphOf(e.plain()).getNodeList().stream().noneMatch(XlaMarks::isMarked), "the plain export has no mark");
      assertEquals(XlaMarks.FULL_WINDOW, SavedModelExport.readDescription(e.marked()).xlaMarked());
      assertTrue(SavedModelExport.readDescription(e.marked()).signatures().containsKey(ServingSignatures.DECODE_TOKEN), "--xla adds decode_token");
      assertFalse(SavedModelExport.readDescription(e.plain()).signatures().containsKey(ServingSignatures.DECODE_TOKEN),
          "a plain export runs without XLA");
      assertEquals(List.of(), SavedModelExport.readDescription(e.plain()).xlaMarked());
    }
  }

  /** export.json from before --xla existed has no xlaMarked: read as unmarked. */
  @Test
  void anExportJsonWithoutXlaMarkedReadsAsUnmarked() throws Exception {
    Path old = Files.createDirectories(dir.resolve("before-xla"));
    String json = Files.readString(exports.get(0).plain().resolve(SavedModelExport.DESCRIPTION));
    String without = json.replaceAll(",\\s*\"xlaMarked\"\\s*:\\s*\\[\\s*\\]", "");
    assertFalse(without.contains("xlaMarked"), without);
    Files.writeString(old.resolve(SavedModelExport.DESCRIPTION), without);
    assertEquals(List.of(), SavedModelExport.readDescription(old).xlaMarked());
  }

  private static void assertClose(float[] want, float[] got, String what) {
    TrainingLogits.assertClose(want, got, 1e-5f, what);
  }

  @Test
  void givesTheUnmarkedExportsAnswers() {
    for (Exports e : exports) {
      String model = e.model().attention().positional().toString();
      try (SavedModelBundle plain = SavedModelBundle.load(e.plain().toString(), ServingSignatures.TAG);
          SavedModelBundle marked = SavedModelBundle.load(e.marked().toString(), ServingSignatures.TAG)) {
        for (int[] shape : new int[][] {{1, 1}, {3, 7}, {2, T}}) {
          int[] tokens = random.ints((long) shape[0] * shape[1], 0, e.model().vocabSize()).toArray();
          for (String[] signature : new String[][] {{ServingSignatures.DEFAULT, ServingSignatures.LOGITS},
              {ServingSignatures.NEXT_TOKEN_LOGPROBS, ServingSignatures.LOGPROBS}}) {
            assertClose(ServedSignature.run(plain, signature[0], signature[1], tokens, shape[0], shape[1]),
                ServedSignature.run(marked, signature[0], signature[1], tokens, shape[0], shape[1]),
                model + " " + signature[0] + " " + shape[0] + "x" + shape[1]);
          }
        }
      }
      try (ServedModel plain = ServedModel.load(e.plain());
          ServedModel marked = ServedModel.load(e.marked());
          TokenDecoder p = plain.cachedDecoder();
          TokenDecoder m = marked.cachedDecoder()) {
        int[] prompt = random.ints(3, 0, e.model().vocabSize()).toArray();
        assertClose(p.append(prompt), m.append(prompt), model + " decode_step prompt");
        for (int i = prompt.length; i < T + 2; i++) {
          int[] next = {random.nextInt(e.model().vocabSize())};
          assertClose(p.append(next), m.append(next), model + " decode_step against decode_token, token " + i);
        }
      }
    }
  }

  /** Step-stat op types of one traced call of serving_default on [batch, time] tokens. */
  private static Map<String, Integer> tracedOps(SavedModelBundle bundle, int[] tokens, int batch, int time) {
    SignatureDef def = bundle.metaGraphDef().getSignatureDefOrThrow(ServingSignatures.DEFAULT);
    RunOptions trace = RunOptions.newBuilder().setTraceLevel(RunOptions.TraceLevel.FULL_TRACE).build();
    try (TInt32 x = Tensors.ints(Shape.of(batch, time), tokens);
        Result r = bundle.session().runner().feed(def.getInputsOrThrow(ServingSignatures.TOKENS).getName(), x)
            .fetch(def.getOutputsOrThrow(ServingSignatures.LOGITS).getName()).setOptions(trace).runAndFetchMetadata()) {
      Map<String, Integer> ops = new TreeMap<>();
      for (DeviceStepStats device : r.getMetadata().orElseThrow().getStepStats().getDevStatsList()) {
        for (NodeExecStats node : device.getNodeStatsList()) {
          ops.merge(opOf(node), 1, Integer::sum);
        }
      }
      return ops;
    }
  }

  /** The op type in a step-stat timeline label, {@code name = Op(inputs)}. */
  private static String opOf(NodeExecStats node) {
    String label = node.getTimelineLabel();
    int eq = label.indexOf(" = ");
    int paren = label.indexOf('(', Math.max(eq, 0));
    return eq >= 0 && paren > eq ? label.substring(eq + 3, paren) : label;
  }

  /**
   * Compiled, and compiled for every routing: XLA's compile and run ops execute once per cluster,
   * on fresh tokens too. A cluster whose compile-time constants were data (the segmented dispatch)
   * would compile for the first routing only and, for the next, skip its run op and fall back.
   */
  @Test
  void xlaCompilesTheClustersOnceAndRunsThemForFreshTokens() {
    for (Exports e : exports) {
      String model = e.model().attention().positional().toString();
      int batch = 2;
      try (SavedModelBundle marked = SavedModelBundle.load(e.marked().toString(), ServingSignatures.TAG);
          SavedModelBundle plain = SavedModelBundle.load(e.plain().toString(), ServingSignatures.TAG)) {
        ServedSignature.run(marked, ServingSignatures.DEFAULT, ServingSignatures.LOGITS,
            random.ints(batch * T, 0, e.model().vocabSize()).toArray(), batch, T); // compiles
        for (int call = 0; call < 3; call++) {
          Map<String, Integer> ops = tracedOps(marked, random.ints(batch * T, 0, e.model().vocabSize()).toArray(), batch, T);
          int compiles = ops.getOrDefault("_XlaCompile", 0);
          assertTrue(compiles >= 1, model + ": no XLA cluster ran: " + ops);
          assertEquals(compiles, ops.getOrDefault("_XlaRun", 0), model + " call " + call + ": a cluster fell back: " + ops);
        }
        Map<String, Integer> unmarked = tracedOps(plain, random.ints(batch * T, 0, e.model().vocabSize()).toArray(), batch, T);
        assertFalse(unmarked.containsKey("_XlaRun"), "the plain export runs no cluster: " + unmarked);
      }
    }
  }

  /** XLA ignores Assert, so the checks must have stayed out of the clusters. */
  @Test
  void theInputChecksStillRefuseBadTokens() {
    try (SavedModelBundle marked = SavedModelBundle.load(exports.get(0).marked().toString(), ServingSignatures.TAG)) {
      int[] bad = random.ints(2 * 3, 0, ROPE.vocabSize()).toArray();
      bad[random.nextInt(bad.length)] = ROPE.vocabSize();
      RuntimeException ids = assertThrows(RuntimeException.class,
          () -> ServedSignature.run(marked, ServingSignatures.DEFAULT, ServingSignatures.LOGITS, bad, 2, 3));
      assertTrue(ids.getMessage().contains("every token id must be in [0, 256), got ids from"), ids.getMessage());
      RuntimeException time = assertThrows(RuntimeException.class, () -> ServedSignature.run(marked, ServingSignatures.NEXT_TOKEN_LOGPROBS,
          ServingSignatures.LOGPROBS, random.ints(T + 1, 0, ROPE.vocabSize()).toArray(), 1, T + 1));
      assertTrue(time.getMessage().contains("time dimension must be in [1, 8] (at most the context), got] [9]"), time.getMessage());
    }
  }
}
