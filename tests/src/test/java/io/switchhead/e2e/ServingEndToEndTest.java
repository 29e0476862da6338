package io.switchhead.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.train.TrainConfig;
import io.switchhead.graph.train.Trainer;
import io.switchhead.graph.train.XlaMode;
import io.switchhead.savedmodel.TrainingLogits;
import io.switchhead.testing.Seeded;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model exported with {@code ./switchhead export} and served in a fresh JVM ({@link ServeCheck}:
 * TensorFlow's loader, tensors fed and fetched by the SignatureDefs' names) gives the training
 * graph's logits and last-position log-probabilities.
 */
class ServingEndToEndTest {

  private static final ModelConfig MODEL = new ModelConfig(256, 32, 2, 16, new SwitchHeadConfig(2, 4, 2, 8, Positional.ROPE, 0.1),
      new DenseFeedForwardConfig(32), 0.1, 0.7);

  @TempDir Path dir;
  @Seeded private Random random;

  @Test
  void aFreshJvmServesTheTrainingGraphsLogits() throws Exception {
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < 5000; i++) {
      text.append((char) ('a' + random.nextInt(20)));
    }
    Path run = dir.resolve("run");
    Path checkpoint;
    try (Trainer trainer = Trainer.start(MODEL, new TrainConfig(2, 3, 1e-2, 1, 1.0, 0.0, 5, XlaMode.OFF, 1000, 1, 1000, 1),
        Corpus.load(Files.writeString(dir.resolve("corpus.txt"), text)), run)) {
      trainer.step();
      trainer.step();
      checkpoint = trainer.checkpoint();
    }
    Path model = dir.resolve("model");
    try (Launcher export = Launcher.start("export", run.toString(), model.toString())) {
      assertEquals(0, export.waitFor(5), export.output());
      assertTrue(export.output().contains("exported step 2 of " + checkpoint.toAbsolutePath()), export.output());
    }

    List<int[]> shapes = List.of(new int[] {1, 1}, new int[] {3, 7}, new int[] {2, MODEL.context()});
    List<int[]> requests = new ArrayList<>();
    Path requestFile = dir.resolve("requests.bin");
    try (DataOutputStream out = new DataOutputStream(Files.newOutputStream(requestFile))) {
      out.writeInt(shapes.size());
      for (int[] shape : shapes) {
        int[] tokens = random.ints((long) shape[0] * shape[1], 0, MODEL.vocabSize()).toArray();
        requests.add(tokens);
        out.writeInt(shape[0]);
        out.writeInt(shape[1]);
        for (int id : tokens) {
          out.writeInt(id);
        }
      }
    }
    Path answerFile = dir.resolve("answers.bin");
    try (Launcher server = Launcher.java(ServeCheck.class, model.toString(), requestFile.toString(), answerFile.toString())) {
      assertEquals(0, server.waitFor(5), server.output());
      assertTrue(server.output().contains("serving_default (tensorflow/serving/predict): tokens:0 -> logits:0"), server.output());
      assertTrue(server.output().contains("served 3 requests"), server.output());
    }

    int v = MODEL.vocabSize();
    try (DataInputStream answers = new DataInputStream(new BufferedInputStream(Files.newInputStream(answerFile)))) {
      for (int r = 0; r < shapes.size(); r++) {
        int batch = shapes.get(r)[0];
        int time = shapes.get(r)[1];
        String what = "shape " + batch + "x" + time;
        float[] logits = TrainingLogits.of(MODEL, checkpoint, requests.get(r), batch, time);
        float[] served = read(answers);
        assertEquals(logits.length, served.length, what);
        for (int i = 0; i < logits.length; i++) {
          assertEquals(logits[i], served[i], 1e-5f * Math.max(1, Math.abs(logits[i])), what + " logit " + i);
        }
        double[] logprobs = TrainingLogits.lastLogSoftmax(logits, batch, time, v);
        float[] servedLogprobs = read(answers);
        assertEquals(logprobs.length, servedLogprobs.length, what);
        for (int i = 0; i < logprobs.length; i++) {
          assertEquals(logprobs[i], servedLogprobs[i], 1e-4, what + " logprob " + i);
        }
      }
    }
  }

  private static float[] read(DataInputStream in) throws Exception {
    float[] values = new float[in.readInt()];
    for (int i = 0; i < values.length; i++) {
      values[i] = in.readFloat();
    }
    return values;
  }
}
