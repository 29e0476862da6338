package io.switchhead.tools.inspect;

import com.google.common.collect.ImmutableList;
import io.switchhead.graph.data.ByteTokens;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.train.Checkpoints;
import io.switchhead.graph.train.VerifiedCheckpoint;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * What the routers of a trained model do on a text ({@code inspect RUN_DIR --routing TEXT_FILE}):
 * runs the run's newest intact checkpoint over the text's bytes, counts for every layer, selection
 * (values, output, sigma-MoE or MH-MoE feed-forward, PEER's retrieval with its heads together) and
 * head which experts it chose, prints the usage shares (for PEER's N experts a summary), entropy
 * and unevenness, and draws the routing heatmaps and usage histograms.
 */
public final class RoutingInspection {

  private RoutingInspection() {}

  /**
   * @param outputDirectory where the pictures go (created if missing; same-named pictures are replaced)
   * @param out receives the numbers: a table, or with {@code json} one JSON document
   * @param warnings receives a line per damaged checkpoint skipped on the way to the newest intact one
   * @throws IllegalArgumentException if the run has no intact checkpoint, the text is not text, or
   *     the model has no expert selection or does not read bytes
   */
  public static RoutingSummary run(Path runDir, Path textFile, Path outputDirectory, PrintWriter out, boolean json,
      Consumer<String> warnings) {
    VerifiedCheckpoint checkpoint = Checkpoints.latestVerified(runDir, warnings);
    ByteTokens text = Corpus.text(textFile);
    RoutingTrace trace = RoutingRecorder.record(checkpoint, text);
    ImmutableList<HeadUsage> usage = HeadUsage.of(trace);
    try {
      Files.createDirectories(outputDirectory);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the picture directory " + outputDirectory, e);
    }
    ImmutableList<Path> pictures = RoutingPictures.write(trace, usage, outputDirectory);
    RoutingSummary summary = new RoutingSummary(checkpoint.directory(), textFile, trace.tokens().length, usage, pictures);
    if (json) {
      RoutingJson.print(summary, out);
    } else {
      RoutingTable.print(summary, out);
    }
    return summary;
  }
}
