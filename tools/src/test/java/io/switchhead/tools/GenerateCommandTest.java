package io.switchhead.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.train.TrainConfig;
import io.switchhead.graph.train.Trainer;
import io.switchhead.graph.train.XlaMode;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code switchhead generate} in-process: from a run and from its export, one seed one text; options checked. */
class GenerateCommandTest {

  @TempDir static Path dir;
  private static Path run;
  private static Path model;

  @BeforeAll
  static void trainAndExport() throws Exception {
    ModelConfig config = new ModelConfig(256, 16, 1, 8, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.0),
        new DenseFeedForwardConfig(8), 0.0, 0.7);
    Corpus corpus = Corpus.load(Files.writeString(dir.resolve("corpus.txt"), "the quick brown fox jumps over the lazy dog. ".repeat(60)));
    run = dir.resolve("run");
    try (Trainer trainer = Trainer.start(config, new TrainConfig(2, 3, 1e-2, 1, 1.0, 0.0, 5, XlaMode.OFF, 1000, 1, 1000, 2), corpus, run)) {
      trainer.step();
      trainer.checkpoint();
    }
    model = dir.resolve("model");
    assertEquals(0, CliRun.of("export", run.toString(), model.toString()).code());
  }

  @Test
  void oneSeedGivesOneTextFromTheRunAndFromTheSavedModel() {
    String[] sampling = {"--prompt", "the ", "--tokens", "40", "--temperature", "1", "--top-k", "50", "--top-p", "0.9", "--seed", "3"};
    CliRun fromRun = CliRun.of(concat(new String[] {"generate", "--out", run.toString()}, sampling)).stripped();
    CliRun fromModel = CliRun.of(concat(new String[] {"generate", "--model", model.toString()}, sampling)).stripped();
    assertEquals(0, fromRun.code(), fromRun.err());
    assertEquals(0, fromModel.code(), fromModel.err());
    assertTrue(fromRun.out().startsWith("the "), fromRun.out());
    assertEquals(fromRun.out(), fromModel.out());
    assertTrue(fromRun.out().length() > "the ".length() + 10, "the text went on: " + fromRun.out());
  }

  @Test
  void badOptionsAreOneLineNamingThem() {
    CliRun topP = CliRun.of("generate", "--model", model.toString(), "--top-p", "0").stripped();
    assertEquals(2, topP.code());
    assertTrue(topP.err().contains("top-p (0.0) must be in (0, 1]"), topP.err());
    CliRun both = CliRun.of("generate", "--model", model.toString(), "--out", run.toString()).stripped();
    assertEquals(2, both.code());
    assertTrue(both.err().contains("mutually exclusive"), both.err());
    CliRun notAModel = CliRun.of("generate", "--model", dir.toString()).stripped();
    assertFalse(notAModel.code() == 0);
    assertTrue(notAModel.err().contains(dir + " is not a SavedModel: it has no saved_model.pb"), notAModel.err());
  }

  @Test
  void bytesReachTheOutputAsTheyComeAndSplitCharactersOnceComplete() {
    StringWriter text = new StringWriter();
    List<String> seen = new ArrayList<>();
    PrintWriter out = new PrintWriter(text) {
      @Override
      public void flush() {
        super.flush();
        seen.add(text.toString());
      }
    };
    Utf8Stream stream = new Utf8Stream(out);
    byte[] bytes = "aé€".getBytes(StandardCharsets.UTF_8); // 1, 2 and 3 bytes
    for (byte b : bytes) {
      stream.write(b & 0xff);
    }
    assertEquals(List.of("a", "a", "aé", "aé", "aé", "aé€"), seen);
    stream.write(0xe2); // the first byte of a three-byte character, then the end
    stream.finish();
    assertEquals("aé€\ufffd", text.toString());
  }

  private static String[] concat(String[] a, String[] b) {
    String[] all = new String[a.length + b.length];
    System.arraycopy(a, 0, all, 0, a.length);
    System.arraycopy(b, 0, all, a.length, b.length);
    return all;
  }
}
