package io.switchhead.graph.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.testing.Seeded;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CorpusTest {

  @TempDir Path dir;
  @Seeded private Random random;

  private byte[] text(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) ('a' + random.nextInt(26));
    }
    return b;
  }

  private static int[] all(TokenArray tokens) {
    int[] out = new int[(int) tokens.length()];
    tokens.copy(0, out);
    return out;
  }

  @Test
  void aDirectorySplitsTheLastFivePercentOfEachFileInNameOrder() throws Exception {
    byte[] a = text(1000);
    byte[] b = text(400);
    Files.write(dir.resolve("b.txt"), b);
    Files.write(dir.resolve("a.txt"), a);
    Corpus corpus = Corpus.load(dir);
    assertEquals(950 + 380, corpus.train().length());
    assertEquals(50 + 20, corpus.validation().length());
    int[] validation = all(corpus.validation());
    assertEquals(a[950] & 0xff, validation[0]);
    assertEquals(b[380] & 0xff, validation[50]);
    assertEquals(256, corpus.vocabulary());
  }

  @Test
  void aTokenBinFileIsUint16LittleEndian() throws Exception {
    int[] tokens = random.ints(200, 0, 50000).toArray();
    ByteBuffer buffer = ByteBuffer.allocate(400).order(ByteOrder.LITTLE_ENDIAN);
    Arrays.stream(tokens).forEach(t -> buffer.putChar((char) t));
    Path bin = dir.resolve("train.bin");
    Files.write(bin, buffer.array());
    Corpus corpus = Corpus.load(bin);
    assertArrayEquals(Arrays.copyOf(tokens, 190), all(corpus.train()));
    assertArrayEquals(Arrays.copyOfRange(tokens, 190, 200), all(corpus.validation()));
    assertEquals(Arrays.stream(tokens).max().orElseThrow() + 1, corpus.vocabulary());
  }

  @Test
  void badDataGetsErrorsNamingTheFile() throws Exception {
    Path missing = dir.resolve("nope.txt");
    assertTrue(assertThrows(IllegalArgumentException.class, () -> Corpus.load(missing)).getMessage().contains("nope.txt"));
    Path empty = Files.createFile(dir.resolve("empty.txt"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> Corpus.load(empty)).getMessage().contains("empty"));
    Path odd = dir.resolve("odd.bin");
    Files.write(odd, new byte[] {1, 2, 3});
    assertTrue(assertThrows(IllegalArgumentException.class, () -> Corpus.load(odd)).getMessage().contains("odd.bin"));
  }

  @Test
  void streamsContinueWhereTheLastChunkEnded() {
    byte[] data = text(3000);
    StreamSampler streams = new StreamSampler(new ByteTokens(data), 3, 8, 17);
    for (long step = 0; step < 5; step++) {
      int[] now = streams.batch(step);
      int[] next = streams.batch(step + 1);
      for (int b = 0; b < 3; b++) {
        // The chunk's last token (the target of its last position) is the next chunk's first input.
        assertEquals(now[b * 9 + 8], next[b * 9], "row " + b + " step " + step);
      }
    }
    assertArrayEquals(streams.batch(3), new StreamSampler(new ByteTokens(data), 3, 8, 17).batch(3));
  }

  @Test
  void batchesAreWindowsOfTheDataAndAPureFunctionOfSeedAndStep() {
    byte[] data = text(5000);
    TokenArray tokens = new ByteTokens(data);
    BatchSampler sampler = new BatchSampler(tokens, 4, 9, 42);
    int[] first = sampler.batch(7);
    assertArrayEquals(first, new BatchSampler(tokens, 4, 9, 42).batch(7), "same seed and step, same batch");
    assertFalse(Arrays.equals(first, sampler.batch(8)), "another step, another batch");
    assertFalse(Arrays.equals(first, new BatchSampler(tokens, 4, 9, 43).batch(7)), "another seed, another batch");
    String haystack = new String(data, java.nio.charset.StandardCharsets.ISO_8859_1);
    for (int b = 0; b < 4; b++) {
      StringBuilder row = new StringBuilder();
      for (int i = 0; i < 9; i++) {
        row.append((char) first[b * 9 + i]);
      }
      assertTrue(haystack.contains(row), "row " + b + " is not a window of the data");
    }
    var error = assertThrows(IllegalArgumentException.class, () -> new BatchSampler(new ByteTokens(text(5)), 1, 9, 1));
    assertTrue(error.getMessage().contains("5 tokens"), error.getMessage());
  }
}
