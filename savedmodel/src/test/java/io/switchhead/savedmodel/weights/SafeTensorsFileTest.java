package io.switchhead.savedmodel.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.collect.ImmutableMap;
import io.switchhead.testing.Seeded;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.ndarray.Shape;

/** The safetensors format as its specification writes it: the layout of a written file, and each kind of malformed file refused. */
class SafeTensorsFileTest {

  @TempDir Path dir;
  @Seeded private Random random;

  private byte[] randomBytes(int n) {
    byte[] b = new byte[n];
    random.nextBytes(b);
    return b;
  }

  /** A file of a header given as JSON and {@code data} after it, the length field written by hand. */
  private Path file(String header, byte[] data) throws Exception {
    byte[] json = header.getBytes(StandardCharsets.UTF_8);
    return raw(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(json.length).array(), json, data);
  }

  private Path raw(byte[]... parts) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.write(p);
    }
    return Files.write(Files.createTempFile(dir, "bad", ".safetensors"), out.toByteArray());
  }

  private static void assertRefused(Path file, String problem) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensorsFile.read(file));
    assertEquals(file + ": " + problem, e.getMessage());
  }

  private static String f32(String name, String shape, long begin, long end) {
    return String.format("\"%s\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[%d,%d]}", name, shape, begin, end);
  }

  @Test
  void writesTheLengthTheHeaderAndTheDataInOrderAndReadsThemBack() throws Exception {
    byte[] a = randomBytes(2 * 3 * 4);
    byte[] b = randomBytes(5 * 8);
    ImmutableMap<String, SafeTensorsFile.Tensor> tensors = ImmutableMap.of(
        "layers.0.a", new SafeTensorsFile.Tensor(Dtype.F32, Shape.of(2, 3), a),
        "b", new SafeTensorsFile.Tensor(Dtype.I64, Shape.of(5), b),
        "empty", new SafeTensorsFile.Tensor(Dtype.F16, Shape.of(0, 4), new byte[0]),
        "scalar", new SafeTensorsFile.Tensor(Dtype.U8, Shape.scalar(), new byte[] {7}));
    Path target = dir.resolve("w.safetensors");
    new SafeTensorsFile(ImmutableMap.of("model", "{\"x\": 1}"), tensors).write(target, false);

    byte[] bytes = Files.readAllBytes(target);
    long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertEquals(0, n % 8, "the header is padded so that the data starts aligned");
    String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
    assertEquals("{\"__metadata__\":{\"model\":\"{\\\"x\\\": 1}\"}," + f32("layers.0.a", "[2,3]", 0, 24)
        + ",\"b\":{\"dtype\":\"I64\",\"shape\":[5],\"data_offsets\":[24,64]},\"empty\":{\"dtype\":\"F16\",\"shape\":[0,4],"
        + "\"data_offsets\":[64,64]},\"scalar\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[64,65]}}", header.stripTrailing());
    assertEquals(8 + n + 65, bytes.length);
    assertArrayEquals(a, Arrays.copyOfRange(bytes, (int) (8 + n), (int) (8 + n + 24)));

    SafeTensorsFile read = SafeTensorsFile.read(target);
    assertEquals(List.of("layers.0.a", "b", "empty", "scalar"), List.copyOf(read.tensors().keySet()));
    assertEquals(ImmutableMap.of("model", "{\"x\": 1}"), read.metadata());
    for (String name : tensors.keySet()) {
      SafeTensorsFile.Tensor want = tensors.get(name);
      SafeTensorsFile.Tensor got = read.tensors().get(name);
      assertEquals(want.dtype(), got.dtype(), name);
      assertEquals(want.shape(), got.shape(), name);
      assertArrayEquals(want.data(), got.data(), name);
    }
  }

  @Test
  void anExistingFileIsReplacedOnlyWithOverwriteAndNothingIsLeftBeside() throws Exception {
    Path target = Files.writeString(dir.resolve("taken.safetensors"), "old");
    SafeTensorsFile file = new SafeTensorsFile(ImmutableMap.of(),
        ImmutableMap.of("x", new SafeTensorsFile.Tensor(Dtype.F32, Shape.of(1), randomBytes(4))));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> file.write(target, false));
    assertEquals(target + " exists; pass --overwrite to replace it", e.getMessage());
    assertEquals("old", Files.readString(target));
    file.write(target, true);
    assertEquals(1, SafeTensorsFile.read(target).tensors().size());
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(List.of(target), files.toList());
    }
  }

  @Test
  void aHeaderPaddedWithSpacesAndAFileWithoutTensorsAreRead() throws Exception {
    assertEquals(1, SafeTensorsFile.read(file("{" + f32("x", "[1]", 0, 4) + "}    ", randomBytes(4))).tensors().size());
    SafeTensorsFile none = SafeTensorsFile.read(file("{\"__metadata__\":{\"a\":\"b\"}}", new byte[0]));
    assertTrue(none.tensors().isEmpty());
    assertEquals(ImmutableMap.of("a", "b"), none.metadata());
  }

  @Test
  void aFileShorterThanTheLengthFieldIsRefused() throws Exception {
    Path file = raw(new byte[] {1, 2, 3});
    assertRefused(file, "3 bytes, too short for the 8-byte header length");
  }

  @Test
  void aHeaderLengthPastTheFileIsRefused() throws Exception {
    Path file = raw(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).array(), "{}".getBytes(StandardCharsets.UTF_8));
    assertRefused(file, "the header length, 1000 bytes, runs past the end of the file (2 bytes after the length)");
  }

  @Test
  void aHugeHeaderLengthIsRefusedBeforeAnythingIsAllocated() throws Exception {
    Path big = raw(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(100_000_001L).array(), new byte[16]);
    assertRefused(big, "the header length, 100000001 bytes, is over the cap of 100,000,000 bytes: not a safetensors file, or a damaged one");
    // Unsigned: all ones is 2^64 - 1, not -1.
    Path ones = raw(ByteBuffer.allocate(8).putLong(-1L).array(), new byte[16]);
    assertRefused(ones, "the header length, 18446744073709551615 bytes, is over the cap of 100,000,000 bytes: not a safetensors file, "
        + "or a damaged one");
  }

  @Test
  void aHeaderThatIsNotAJsonObjectIsRefused() throws Exception {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensorsFile.read(file("{\"x\": [1, 2", new byte[0])));
    assertTrue(e.getMessage().startsWith(dir.toString()) && e.getMessage().contains(": the header is not JSON: "), e.getMessage());
    assertRefused(file("[1, 2]", new byte[0]), "the header is a JSON array, expected a JSON object");
    assertRefused(file("", new byte[0]), "the header is empty, expected a JSON object");
    Path trailing = file("{} {}", new byte[0]);
    assertTrue(assertThrows(IllegalArgumentException.class, () -> SafeTensorsFile.read(trailing)).getMessage().contains("the header is not JSON"));
    Path duplicate = file("{" + f32("x", "[1]", 0, 4) + "," + f32("x", "[1]", 4, 8) + "}", randomBytes(8));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> SafeTensorsFile.read(duplicate)).getMessage()
        .contains("Duplicate field 'x'"), "a name twice is refused, not one of them kept");
  }

  @Test
  void overlappingOffsetsAreRefusedNamingBothTensors() throws Exception {
    assertRefused(file("{" + f32("a", "[2]", 0, 8) + "," + f32("b", "[2]", 4, 12) + "}", randomBytes(12)),
        "tensor 'b': data_offsets [4, 12] overlap those of tensor 'a' [0, 8]");
  }

  @Test
  void offsetsPastTheDataAreRefusedNamingTheTensor() throws Exception {
    assertRefused(file("{" + f32("a", "[2]", 0, 8) + "," + f32("b", "[2]", 8, 16) + "}", randomBytes(12)),
        "tensor 'b': data_offsets [8, 16] run past the end of the data (12 bytes after the header)");
  }

  @Test
  void bytesInNoTensorAreRefusedBetweenAndAfterTheTensors() throws Exception {
    assertRefused(file("{" + f32("a", "[1]", 0, 4) + "," + f32("b", "[1]", 8, 12) + "}", randomBytes(12)),
        "bytes [4, 8) of the data, before tensor 'b', are in no tensor (the specification requires every byte to be a tensor's)");
    assertRefused(file("{" + f32("a", "[1]", 0, 4) + "}", randomBytes(9)),
        "bytes [4, 9) of the data, after tensor 'a', are in no tensor (the specification requires every byte to be a tensor's)");
  }

  @Test
  void anUnknownDtypeIsRefusedNamingTheTensor() throws Exception {
    assertRefused(file("{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", randomBytes(4)),
        "tensor 'w': unknown dtype 'F33' (known: [BOOL, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, I16, U16, F16, BF16, I32, U32, F32, F64, "
            + "C64, I64, U64])");
  }

  @Test
  void entriesThatDoNotSayOneTensorAreRefused() throws Exception {
    assertRefused(file("{" + f32("w", "[3]", 0, 8) + "}", randomBytes(8)),
        "tensor 'w': data_offsets [0, 8] hold 8 bytes, its dtype F32 and shape [3] take 12");
    assertRefused(file("{" + f32("w", "[2.5]", 0, 8) + "}", randomBytes(8)),
        "tensor 'w': shape holds 2.5, expected integers from 0 to 2^63 - 1");
    assertRefused(file("{" + f32("w", "[-2]", 0, 8) + "}", randomBytes(8)),
        "tensor 'w': shape holds -2, expected integers from 0 to 2^63 - 1");
    assertRefused(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8]}}", randomBytes(8)),
        "tensor 'w': data_offsets has 1 numbers, expected 2 (begin, end)");
    assertRefused(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", randomBytes(8)),
        "tensor 'w': no data_offsets (an entry has [dtype, shape, data_offsets])");
    assertRefused(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"bias\":1}}", randomBytes(8)),
        "tensor 'w': unknown field 'bias' (an entry has [dtype, shape, data_offsets])");
    assertRefused(file("{\"__metadata__\":{\"step\":3}}", new byte[0]), "__metadata__ entry 'step' is a JSON number, expected a string");
  }
}
