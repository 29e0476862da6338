package io.switchhead.tools.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchhead.graph.config.AttentionConfig;
import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.DenseAttentionConfig;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.graph.train.AdamW;
import io.switchhead.graph.train.StepKind;
import io.switchhead.graph.train.StepSettings;
import io.switchhead.graph.train.TrainingGraph;
import io.switchhead.testing.Seeded;
import io.switchhead.testing.TestPython;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.Result;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

/**
 * The PyTorch reference ({@code pytorch_step.py}) computes the project's step: started from the
 * project's parameters on the project's batch, without dropout, its first loss is the project's
 * (the forward pass: same structure, same arithmetic) and so is the loss after one update (backward,
 * clip, AdamW). The update differs only by where Adam's epsilon sits (TensorFlow's ApplyAdam adds it
 * to sqrt(v) before the bias correction, PyTorch after), which moves the second loss by about 2e-4.
 */
class PyTorchStepMatchesProjectTest {

  private static final Path SCRIPT = Path.of("src/main/python/pytorch_step.py");

  private static final int BATCH = 2;

  @Seeded private Random random;

  static Stream<AttentionConfig> attentions() {
    return Stream.of(new SwitchHeadConfig(2, 3, 2, 16, Positional.XL, 0), new DenseAttentionConfig(6, 8, Positional.XL),
        new SwitchHeadConfig(2, 3, 2, 16, Positional.ROPE, 0), new DenseAttentionConfig(6, 8, Positional.ROPE));
  }

  @ParameterizedTest
  @MethodSource("attentions")
  void startedFromTheProjectsParametersItsLossesAreTheProjects(AttentionConfig attention, @TempDir Path dir) throws Exception {
    // Two blocks, so the second's XL memory and keys see what the first computed.
    ModelConfig model = new ModelConfig(256, 64, 2, 32, attention, new DenseFeedForwardConfig(48), 0, 0.7);
    int[] tokens = random.ints(BATCH * (model.context() + 1), 0, model.vocabSize()).toArray();
    double[] project = new double[2];
    try (TrainingGraph g = new TrainingGraph(model, new StepSettings(BATCH, 1, AdamW.paper(0), 0.25), EnumSet.of(StepKind.PLAIN))) {
      dump(g, tokens, dir);
      for (int step = 0; step < project.length; step++) {
        project[step] = g.step(tokens, step, 1, 1e-4, true).loss();
      }
    }
    Path config = Files.writeString(dir.resolve("model.json"), ConfigJson.write(model));

    String out = TestPython.run(List.of(TestPython.interpreter().toString(), SCRIPT.toString(), config.toString(), "--params", dir.toString(),
        "--batch", Integer.toString(BATCH), "--warmup", "0", "--steps", "2"), 120).requireSuccess();

    JsonNode losses = new ObjectMapper().readTree(out.strip()).path("losses");
    assertEquals(project[0], losses.path(0).asDouble(), 1e-5, "the loss at the project's parameters: " + out);
    assertEquals(project[1], losses.path(1).asDouble(), 1e-3, "the loss after one update: " + out);
  }

  /** What the script's --params reads: index.json (path to shape), one little-endian float32 file a parameter, the tokens. */
  private static void dump(TrainingGraph g, int[] tokens, Path dir) throws Exception {
    StringBuilder index = new StringBuilder("{");
    for (ParamStore.Param p : g.store().params()) {
      try (Result r = g.session().runner().fetch(p.variable()).run()) {
        TFloat32 t = (TFloat32) r.get(0);
        float[] values = new float[Math.toIntExact(t.size())];
        t.copyTo(DataBuffers.of(values, false, false));
        ByteBuffer bytes = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        bytes.asFloatBuffer().put(values);
        String path = p.spec().path();
        Files.write(dir.resolve(path.replace('/', '.') + ".f32"), bytes.array());
        index.append(index.length() > 1 ? ", " : "").append('"').append(path).append("\": ").append(Arrays.toString(t.shape().asArray()));
      }
    }
    Files.writeString(dir.resolve("index.json"), index.append('}'));
    ByteBuffer batch = ByteBuffer.allocate(tokens.length * Integer.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    batch.asIntBuffer().put(tokens);
    Files.write(dir.resolve("tokens.i32"), batch.array());
  }
}
