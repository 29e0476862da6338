package io.switchhead.e2e;

import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

/** A small SwitchHead model and corpus, fast on two cores, and the command line that trains them. */
final class TinyRun {

  private TinyRun() {}

  /** The model config, written to {@code dir}. */
  static Path config(Path dir) throws IOException {
    ModelConfig c = new ModelConfig(256, 32, 2, 32, new SwitchHeadConfig(2, 4, 2, 8, Positional.ROPE, 0.1),
        new DenseFeedForwardConfig(64), 0.1, 0.7);
    return Files.writeString(dir.resolve("tiny-e2e.json"), ConfigJson.write(c));
  }

  /** 20,000 words of a six-word language, written to {@code dir}. */
  static Path corpus(Path dir, Random random) throws IOException {
    StringBuilder text = new StringBuilder();
    String[] words = {"alpha ", "beta ", "gamma ", "delta, ", "epsilon. ", "zeta\n"};
    for (int i = 0; i < 20000; i++) {
      text.append(words[random.nextInt(words.length)]);
    }
    return Files.writeString(dir.resolve("corpus.txt"), text);
  }

  /** {@code train} of {@code steps}, evaluating and saving every {@code every} steps, then {@code extra}. */
  static String[] train(Path config, Path data, Path out, int steps, int every, String... extra) {
    String[] base = {"train", "--config", config.toString(), "--data", data.toString(), "--out", out.toString(),
        "--steps", Integer.toString(steps), "--batch", "4", "--eval-every", Integer.toString(every), "--eval-batches", "2",
        "--checkpoint-every", Integer.toString(every), "--xla", "off", "--no-progress", "--warmup", "5", "--lr", "3e-3"};
    String[] all = Arrays.copyOf(base, base.length + extra.length);
    System.arraycopy(extra, 0, all, base.length, extra.length);
    return all;
  }
}
