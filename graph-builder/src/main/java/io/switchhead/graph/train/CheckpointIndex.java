package io.switchhead.graph.train;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableSortedMap;
import com.google.protobuf.InvalidProtocolBufferException;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.zip.CRC32C;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.BundleEntryProto;
import org.tensorflow.proto.BundleHeaderProto;
import org.tensorflow.proto.TensorShapeProto;

/**
 * What a TensorFlow checkpoint holds, read from its {@code <prefix>.index} without TensorFlow: the
 * name, type and shape of every tensor and where its bytes lie in the data file. Lets a resume
 * compare the variables a model config needs with those really saved before anything is restored
 * (a restore of a subset succeeds silently), and lets verification check the data file's extent.
 *
 * <p>The index is a LevelDB-format table (TensorFlow's tensor bundle, written uncompressed): a
 * 48-byte footer at the end holds the handles (varint offset and size) of the metaindex and the
 * index block and the magic number; the index block lists the data blocks; each block is a run of
 * prefix-compressed entries followed by restart offsets, a compression byte and a masked CRC-32C.
 * The entry of key "" is the {@link BundleHeaderProto}; every other key is a tensor's name and its
 * value a {@link BundleEntryProto}.
 */
public final class CheckpointIndex {

  /**
   * One saved tensor: its type and shape, and its bytes in the data file of shard {@code shard}
   * with their masked CRC-32C.
   */
  public record Tensor(VariableType type, int shard, long offset, long size, int crc32c) {}

  private static final long MAGIC = 0xdb4775248b80fb57L;
  private static final int FOOTER_LENGTH = 48;
  /** A block is followed by its compression type (1 byte) and masked CRC-32C (4 bytes). */
  private static final int TRAILER_LENGTH = 5;
  private static final int MASK_DELTA = 0xa282ead8;

  private final BundleHeaderProto header;
  private final ImmutableSortedMap<String, Tensor> tensors;

  private CheckpointIndex(BundleHeaderProto header, ImmutableSortedMap<String, Tensor> tensors) {
    this.header = header;
    this.tensors = tensors;
  }

  /**
   * Reads the index of the checkpoint with variables prefix {@code prefix} ({@code <prefix>.index}).
   *
   * @throws IllegalArgumentException naming the file if it is not a readable tensor-bundle index
   * @throws UncheckedIOException if it cannot be read at all (e.g. it is missing)
   */
  public static CheckpointIndex read(String prefix) {
    Path file = Path.of(prefix + ".index");
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read checkpoint index " + file, e);
    }
    try {
      return parse(bytes);
    } catch (IllegalArgumentException | IndexOutOfBoundsException | BufferUnderflowException e) {
      throw new IllegalArgumentException(file + " is not a readable checkpoint index: " + e.getMessage(), e);
    }
  }

  /** The data file of shard {@code shard} of the checkpoint with variables prefix {@code prefix}. */
  public Path dataFile(String prefix, int shard) {
    return Path.of(String.format(Locale.ROOT, "%s.data-%05d-of-%05d", prefix, shard, header.getNumShards()));
  }

  public int shards() {
    return header.getNumShards();
  }

  /** Every saved tensor by name, in name order. */
  public ImmutableSortedMap<String, Tensor> tensors() {
    return tensors;
  }

  /**
   * What is wrong with the data files, the first problem found: a missing file, one too short for
   * the tensors the index places in it, or (with {@code checkCrcs}, which reads every byte) a
   * tensor whose bytes fail the CRC the index holds for them.
   */
  public Optional<String> dataProblem(String prefix, boolean checkCrcs) {
    for (int shard = 0; shard < shards(); shard++) {
      Path file = dataFile(prefix, shard);
      int s = shard;
      List<Tensor> inShard = tensors.values().stream().filter(t -> t.shard() == s).sorted(Comparator.comparingLong(Tensor::offset)).toList();
      long end = inShard.stream().mapToLong(t -> t.offset() + t.size()).max().orElse(0);
      try (FileChannel data = FileChannel.open(file)) {
        if (data.size() < end) {
          return Optional.of(String.format("%s has %,d bytes, its index places tensors up to byte %,d (truncated)",
              file.getFileName(), data.size(), end));
        }
        if (checkCrcs) {
          for (Tensor t : inShard) {
            if (mask(crc32c(data, t.offset(), t.size())) != t.crc32c()) {
              return Optional.of(file.getFileName() + ": a tensor's bytes at offset " + t.offset() + " fail the CRC-32C of its index");
            }
          }
        }
      } catch (NoSuchFileException e) {
        return Optional.of(file.getFileName() + " is missing");
      } catch (IOException e) {
        return Optional.of(file.getFileName() + " cannot be read (" + e + ")");
      }
    }
    return Optional.empty();
  }

  private static int crc32c(FileChannel data, long offset, long size) throws IOException {
    CRC32C crc = new CRC32C();
    ByteBuffer buffer = ByteBuffer.allocate(1 << 20);
    for (long done = 0; done < size; ) {
      buffer.clear().limit((int) Math.min(buffer.capacity(), size - done));
      int read = data.read(buffer, offset + done);
      if (read < 0) {
        throw new EOFException("end of file within a tensor");
      }
      crc.update(buffer.flip());
      done += read;
    }
    return (int) crc.getValue();
  }

  private static CheckpointIndex parse(byte[] file) {
    checkArgument(file.length >= FOOTER_LENGTH, "%s bytes, shorter than a table footer (%s)", file.length, FOOTER_LENGTH);
    ByteBuffer footer = ByteBuffer.wrap(file, file.length - FOOTER_LENGTH, FOOTER_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
    long magic = footer.getLong(file.length - 8);
    checkArgument(magic == MAGIC, "bad magic number %s", Long.toHexString(magic));
    block(file, readVarint(footer), readVarint(footer)); // the metaindex: only checked (no filters in a bundle)
    ByteBuffer index = block(file, readVarint(footer), readVarint(footer));

    BundleHeaderProto header = null;
    ImmutableSortedMap.Builder<String, Tensor> tensors = ImmutableSortedMap.naturalOrder();
    for (byte[][] dataHandle : entries(index)) {
      ByteBuffer handle = ByteBuffer.wrap(dataHandle[1]);
      for (byte[][] entry : entries(block(file, readVarint(handle), readVarint(handle)))) {
        String key = new String(entry[0], StandardCharsets.UTF_8);
        try {
          if (key.isEmpty()) {
            header = BundleHeaderProto.parseFrom(entry[1]);
          } else {
            tensors.put(key, tensor(BundleEntryProto.parseFrom(entry[1])));
          }
        } catch (InvalidProtocolBufferException e) {
          throw new IllegalArgumentException("entry '" + key + "' is not a bundle entry: " + e.getMessage(), e);
        }
      }
    }
    checkArgument(header != null, "no bundle header (the entry of key \"\")");
    checkArgument(header.getNumShards() >= 1, "the header names %s data shards", header.getNumShards());
    return new CheckpointIndex(header, tensors.buildOrThrow());
  }

  private static Tensor tensor(BundleEntryProto entry) {
    long[] dims = entry.getShape().getDimList().stream().mapToLong(TensorShapeProto.Dim::getSize).toArray();
    checkArgument(entry.getSlicesCount() == 0, "sliced tensors are not supported");
    return new Tensor(new VariableType(entry.getDtype(), Shape.of(dims)), entry.getShardId(), entry.getOffset(), entry.getSize(),
        entry.getCrc32C());
  }

  /** The contents of the block at {@code offset}, after checking its trailer. */
  private static ByteBuffer block(byte[] file, long offset, long size) {
    checkArgument(offset >= 0 && size >= 0 && offset + size + TRAILER_LENGTH <= file.length - FOOTER_LENGTH,
        "block [%s, +%s) lies outside the file", offset, size);
    int start = (int) offset;
    int length = (int) size;
    checkArgument(file[start + length] == 0, "block at %s is compressed (type %s)", offset, file[start + length]);
    CRC32C crc = new CRC32C();
    crc.update(file, start, length + 1);
    int stored = ByteBuffer.wrap(file, start + length + 1, 4).order(ByteOrder.LITTLE_ENDIAN).getInt(start + length + 1);
    int actual = (int) crc.getValue();
    checkArgument(stored == mask(actual), "block at %s fails its CRC-32C check", offset);
    return ByteBuffer.wrap(file, start, length).slice().order(ByteOrder.LITTLE_ENDIAN);
  }

  /** LevelDB's masked CRC: a CRC of data that holds CRCs would otherwise be weak. */
  private static int mask(int crc) {
    return ((crc >>> 15) | (crc << 17)) + MASK_DELTA;
  }

  /** A block's entries as {key, value} pairs, keys restored from their shared prefixes. */
  private static List<byte[][]> entries(ByteBuffer block) {
    int limit = block.limit();
    checkArgument(limit >= 4, "block of %s bytes has no restart count", limit);
    int restarts = block.getInt(limit - 4);
    long entriesEnd = limit - 4 - 4L * restarts;
    checkArgument(restarts >= 0 && entriesEnd >= 0, "block of %s bytes claims %s restart points", limit, restarts);
    List<byte[][]> out = new ArrayList<>();
    byte[] previous = new byte[0];
    while (block.position() < entriesEnd) {
      int shared = (int) readVarint(block);
      int unshared = (int) readVarint(block);
      int valueLength = (int) readVarint(block);
      checkArgument(shared <= previous.length, "entry shares %s bytes of a %s-byte key", shared, previous.length);
      byte[] key = Arrays.copyOf(previous, shared + unshared);
      block.get(key, shared, unshared);
      byte[] value = new byte[valueLength];
      block.get(value);
      out.add(new byte[][] {key, value});
      previous = key;
    }
    return out;
  }

  private static long readVarint(ByteBuffer in) {
    long value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      byte b = in.get();
      value |= (long) (b & 0x7f) << shift;
      if (b >= 0) {
        return value;
      }
    }
    throw new IllegalArgumentException("varint longer than 10 bytes");
  }
}
