package io.switchhead.graph.train;

import static com.google.common.base.Preconditions.checkArgument;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32C;
import org.tensorflow.proto.Event;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.HistogramProto;
import org.tensorflow.proto.Summary;

/**
 * Writes scalars, histograms and graphs as TensorBoard event files ({@code events.out.tfevents.<time>.<host>}): Event protos
 * framed as TFRecords (length, masked CRC32C of the length, data, masked CRC32C of the data).
 */
public final class TensorBoardWriter implements AutoCloseable {

  private final OutputStream out;
  private final Path file;

  public TensorBoardWriter(Path directory) {
    try {
      Files.createDirectories(directory);
      String host = InetAddress.getLocalHost().getHostName();
      file = directory.resolve(String.format("events.out.tfevents.%d.%s", System.currentTimeMillis() / 1000, host));
      out = new BufferedOutputStream(Files.newOutputStream(file));
      write(Event.newBuilder().setWallTime(now()).setFileVersion("brain.Event:2").build());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create a TensorBoard event file in " + directory, e);
    }
  }

  public Path file() {
    return file;
  }

  /** Records {@code tag = value} at {@code step}. */
  public void scalar(String tag, long step, double value) {
    Summary summary = Summary.newBuilder().addValue(Summary.Value.newBuilder().setTag(tag).setSimpleValue((float) value)).build();
    write(Event.newBuilder().setWallTime(now()).setStep(step).setSummary(summary).build());
  }

  /**
   * Records at {@code step} the histogram of the values 0..n-1 that occurred {@code counts[i]} times
   * each (an expert-usage histogram: value i is expert i). Each value has a bucket of its own, the
   * one ending at i + 0.5, so TensorBoard shows one bar per expert rather than re-binning them.
   */
  public void histogram(String tag, long step, long[] counts) {
    HistogramProto.Builder h = HistogramProto.newBuilder();
    double num = 0;
    double sum = 0;
    double squares = 0;
    double min = Double.NaN;
    double max = Double.NaN;
    for (int i = 0; i < counts.length; i++) {
      checkArgument(counts[i] >= 0, "%s: count of value %s is negative (%s)", tag, i, counts[i]);
      h.addBucketLimit(i + 0.5).addBucket(counts[i]);
      if (counts[i] > 0) {
        min = Double.isNaN(min) ? i : min;
        max = i;
      }
      num += counts[i];
      sum += (double) i * counts[i];
      squares += (double) i * i * counts[i];
    }
    h.setNum(num).setSum(sum).setSumSquares(squares).setMin(Double.isNaN(min) ? 0 : min).setMax(Double.isNaN(max) ? 0 : max);
    Summary summary = Summary.newBuilder().addValue(Summary.Value.newBuilder().setTag(tag).setHisto(h)).build();
    write(Event.newBuilder().setWallTime(now()).setStep(step).setSummary(summary).build());
  }

  /** Records a graph, which TensorBoard's Graphs tab draws (an Event whose graph_def is the GraphDef's bytes). */
  public void graph(GraphDef graph) {
    write(Event.newBuilder().setWallTime(now()).setGraphDef(graph.toByteString()).build());
  }

  public void flush() {
    try {
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }

  @Override
  public void close() {
    try {
      out.close();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot close " + file, e);
    }
  }

  private void write(Event event) {
    byte[] data = event.toByteArray();
    byte[] length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(data.length).array();
    try {
      out.write(length);
      out.write(maskedCrc(length));
      out.write(data);
      out.write(maskedCrc(data));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }

  /** TFRecord's masked CRC32C, little-endian. */
  static byte[] maskedCrc(byte[] data) {
    CRC32C crc = new CRC32C();
    crc.update(data);
    int value = (int) crc.getValue();
    int masked = ((value >>> 15) | (value << 17)) + 0xa282ead8;
    return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(masked).array();
  }

  private static double now() {
    return System.currentTimeMillis() / 1000.0;
  }
}
