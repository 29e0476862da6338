package io.switchhead.graph.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.testing.Seeded;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
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

  private Path tokenFile(String name, int[] tokens) throws Exception {
    ByteBuffer buffer = ByteBuffer.allocate(2 * tokens.length).order(ByteOrder.LITTLE_ENDIAN);
    Arrays.stream(tokens).forEach(t -> buffer.putChar((char) t));
    return Files.write(dir.resolve(name), buffer.array());
  }

  @Test
  void aTextDirectorySkipsWhatIsNotTextAndNamesEachSkippedFile() throws Exception {
    byte[] text = "Grüße, naïve café: ✓ UTF-8 text.\n".repeat(40).getBytes(StandardCharsets.UTF_8);
    Files.write(dir.resolve("book.txt"), text);
    // Random bytes without NULs: still about 11% control bytes, which text does not have.
    byte[] noise = new byte[2000];
    random.nextBytes(noise);
    long controls = 0;
    for (int i = 0; i < noise.length; i++) {
      noise[i] = noise[i] == 0 ? 1 : noise[i];
      int b = noise[i] & 0xff;
      controls += (b < 0x20 && b != 9 && b != 10 && b != 11 && b != 12 && b != 13 && b != 0x1b) || b == 0x7f ? 1 : 0;
    }
    Files.write(dir.resolve("noise.dat"), noise);
    Files.write(dir.resolve("nul.txt"), "text with a \0 in it".getBytes(StandardCharsets.UTF_8));
    // Byte-level text in another 8-bit encoding is text (two of the default corpus's books are Latin-1).
    byte[] latin1 = "caf\u00e9 au lait, cr\u00e8me br\u00fbl\u00e9e\n".repeat(20).getBytes(StandardCharsets.ISO_8859_1);
    Files.write(dir.resolve("latin1.txt"), latin1);
    Files.createDirectory(dir.resolve("sub"));
    Corpus corpus = Corpus.load(dir);
    assertEquals(text.length + latin1.length, corpus.train().length() + corpus.validation().length(), "book.txt and latin1.txt are read");
    assertEquals(List.of(
        "skipped " + dir.resolve("sub") + ": a directory (data directories are not read recursively)",
        "skipped " + dir.resolve("noise.dat") + ": not text, " + String.format(java.util.Locale.ROOT,
            "%,d control bytes in 2,000 (%.1f%%; text has under 1%%): binary data", controls, controls / 20.0),
        "skipped " + dir.resolve("nul.txt") + ": not text, a NUL byte at offset 12 (binary data, or UTF-16)"),
        corpus.warnings());
  }

  @Test
  void textCutInsideAUtf8CharacterIsStillText() throws Exception {
    byte[] whole = "naïve café ✓".repeat(30).getBytes(StandardCharsets.UTF_8);
    byte[] cut = Arrays.copyOf(whole, whole.length - 1); // the last ✓ loses its last byte, as head -c does
    Path file = Files.write(dir.resolve("cut.txt"), cut);
    assertEquals(cut.length, Corpus.load(file).train().length() + Corpus.load(file).validation().length());
  }

  @Test
  void aDirectoryWithNothingButBinariesIsRefused() throws Exception {
    byte[] noise = new byte[500];
    random.nextBytes(noise);
    noise[0] = 0; // binary, whatever the seed
    Files.write(dir.resolve("a.dat"), noise);
    var error = assertThrows(IllegalArgumentException.class, () -> Corpus.load(dir));
    assertEquals(dir + ": the corpus is empty (every file was skipped as not text)", error.getMessage());
  }

  @Test
  void aNamedFileThatIsNotTextIsRefused() throws Exception {
    byte[] noise = new byte[1000];
    random.nextBytes(noise);
    noise[10] = 0;
    Path file = Files.write(dir.resolve("model.safetensors"), noise);
    var error = assertThrows(IllegalArgumentException.class, () -> Corpus.load(file));
    assertTrue(error.getMessage().startsWith(file + " is not text: "), error.getMessage());
    assertTrue(error.getMessage().endsWith("; give text as a text file, or uint16 tokens as a .bin file"), error.getMessage());
  }

  @Test
  void aWholeTextIsEveryByteUnsplitAndRefusedIfNotTextOrEmpty() throws Exception {
    byte[] bytes = "naïve café, 3 bytes: ✓\n".getBytes(StandardCharsets.UTF_8);
    ByteTokens text = Corpus.text(Files.write(dir.resolve("short.txt"), bytes));
    assertEquals(bytes.length, text.length());
    for (int i = 0; i < bytes.length; i++) {
      assertEquals(bytes[i] & 0xff, text.get(i));
    }
    Path binary = Files.write(dir.resolve("binary.txt"), new byte[] {'a', 0});
    var notText = assertThrows(IllegalArgumentException.class, () -> Corpus.text(binary));
    assertEquals(binary + " is not text: a NUL byte at offset 1 (binary data, or UTF-16)", notText.getMessage());
    Path empty = Files.write(dir.resolve("empty.txt"), new byte[0]);
    var nothing = assertThrows(IllegalArgumentException.class, () -> Corpus.text(empty));
    assertEquals(empty + " is empty: there is no text to run the model on", nothing.getMessage());
    var missing = assertThrows(IllegalArgumentException.class, () -> Corpus.text(dir.resolve("absent.txt")));
    assertTrue(missing.getMessage().endsWith("absent.txt does not exist or is not a regular file"), missing.getMessage());
  }

  @Test
  void aDirectoryOfTokenFilesReadsEachAsUint16AndSplitsEach() throws Exception {
    int[] a = random.ints(200, 0, 50000).toArray();
    int[] b = random.ints(100, 0, 50000).toArray();
    tokenFile("b.bin", b);
    tokenFile("a.bin", a);
    Corpus corpus = Corpus.load(dir);
    int[] train = new int[190 + 95];
    System.arraycopy(a, 0, train, 0, 190);
    System.arraycopy(b, 0, train, 190, 95);
    int[] validation = new int[10 + 5];
    System.arraycopy(a, 190, validation, 0, 10);
    System.arraycopy(b, 95, validation, 10, 5);
    assertArrayEquals(train, all(corpus.train()));
    assertArrayEquals(validation, all(corpus.validation()));
    assertEquals(Math.max(Arrays.stream(a).max().orElseThrow(), Arrays.stream(b).max().orElseThrow()) + 1, corpus.vocabulary());
    assertEquals(List.of(), corpus.warnings());
  }

  @Test
  void aDirectoryMixingTokenFilesAndTextIsRefused() throws Exception {
    // nanoGPT's data/shakespeare_char after prepare.py: train.bin, val.bin, input.txt, prepare.py.
    tokenFile("train.bin", random.ints(100, 0, 65).toArray());
    tokenFile("val.bin", random.ints(20, 0, 65).toArray());
    Files.write(dir.resolve("input.txt"), text(300));
    Files.write(dir.resolve("prepare.py"), text(50));
    var error = assertThrows(IllegalArgumentException.class, () -> Corpus.load(dir));
    assertEquals("data directory " + dir + " mixes uint16 token files (train.bin, val.bin) with other files (input.txt, "
        + "prepare.py); a data directory holds .bin token files or text files, not both", error.getMessage());
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
