package io.switchhead.graph.train;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.tensorflow.proto.Event;
import org.tensorflow.proto.Summary;

/**
 * Reads the scalars back from TensorBoard event files (for tools and tests), checking every record's
 * CRCs. Files are read in name order (their names start with the creation time), so a step logged
 * again by a resumed run keeps its latest value.
 */
public final class TensorBoardReader {

  private TensorBoardReader() {}

  /** The values of {@code tag} by step, from every event file in {@code directory}. */
  public static SortedMap<Long, Float> scalars(Path directory, String tag) {
    SortedMap<Long, Float> values = new TreeMap<>();
    try (Stream<Path> files = Files.list(directory)) {
      List<Path> events = files.filter(p -> p.getFileName().toString().startsWith("events.out.tfevents.")).sorted().toList();
      for (Path file : events) {
        read(file, tag, values);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read event files in " + directory, e);
    }
    return values;
  }

  private static void read(Path file, String tag, SortedMap<Long, Float> values) throws IOException {
    try (InputStream raw = Files.newInputStream(file);
        DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(raw))) {
      while (true) {
        byte[] length = new byte[8];
        try {
          in.readFully(length);
        } catch (EOFException end) {
          return;
        }
        byte[] lengthCrc = new byte[4];
        in.readFully(lengthCrc);
        check(file, Arrays.equals(lengthCrc, TensorBoardWriter.maskedCrc(length)));
        byte[] data = new byte[Math.toIntExact(ByteBuffer.wrap(length).order(ByteOrder.LITTLE_ENDIAN).getLong())];
        in.readFully(data);
        byte[] dataCrc = new byte[4];
        in.readFully(dataCrc);
        check(file, Arrays.equals(dataCrc, TensorBoardWriter.maskedCrc(data)));
        Event event = Event.parseFrom(data);
        for (Summary.Value v : event.getSummary().getValueList()) {
          if (v.getTag().equals(tag)) {
            values.put(event.getStep(), v.getSimpleValue());
          }
        }
      }
    } catch (EOFException truncated) {
      // A writer killed mid-record leaves a partial last record: everything before it stands.
    }
  }

  private static void check(Path file, boolean ok) {
    if (!ok) {
      throw new IllegalStateException(file + ": a record's CRC does not match: the file is corrupt");
    }
  }
}
