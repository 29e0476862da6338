package io.switchhead.savedmodel.weights;

import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.train.CheckpointIndex;
import io.switchhead.graph.train.TrainConfig;
import io.switchhead.graph.train.Trainer;
import io.switchhead.graph.train.VerifiedCheckpoint;
import io.switchhead.graph.train.XlaMode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/** Tiny runs for the weights tests, and the bytes a checkpoint holds, read from its files without TensorFlow. */
final class TrainedRuns {

  /** Batch 2, 10 steps planned (so an imported run can resume), plain graph, no evaluation or checkpoint on the way. */
  static final TrainConfig TRAIN = new TrainConfig(2, 10, 1e-2, 1, 1.0, 0.0, 5, XlaMode.OFF, 1000, 1, 1000, 3);

  private TrainedRuns() {}

  /** 3000 random letters of 8 kinds, as a text file in {@code dir}. */
  static Corpus corpus(Path dir, Random random) {
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < 3000; i++) {
      text.append((char) ('a' + random.nextInt(8)));
    }
    try {
      return Corpus.load(Files.writeString(dir.resolve("corpus.txt"), text));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A run of {@code model} in {@code run}, trained {@code steps} steps, then checkpointed. */
  static Path train(ModelConfig model, Corpus corpus, Path run, int steps) {
    try (Trainer trainer = Trainer.start(model, TRAIN, corpus, run)) {
      for (int i = 0; i < steps; i++) {
        trainer.step();
      }
      trainer.checkpoint();
    }
    return run;
  }

  /** The bytes the checkpoint's data file holds for variable {@code name}, where its index places them. */
  static byte[] savedBytes(VerifiedCheckpoint checkpoint, String name) {
    CheckpointIndex.Tensor t = checkpoint.index().tensors().get(name);
    if (t == null) {
      throw new AssertionError(checkpoint.directory() + " holds no variable " + name);
    }
    try (FileChannel data = FileChannel.open(checkpoint.index().dataFile(checkpoint.variablesPrefix(), t.shard()))) {
      ByteBuffer bytes = ByteBuffer.allocate(Math.toIntExact(t.size()));
      while (bytes.hasRemaining()) {
        if (data.read(bytes, t.offset() + bytes.position()) < 0) {
          throw new AssertionError(checkpoint.directory() + ": the data file ends within " + name);
        }
      }
      return bytes.array();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
