package io.switchhead.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.Presets;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** What {@code train} tells a user about a config or data that is not what it should be, before training. */
class TrainInputTest {

  @TempDir Path dir;
  private final StringWriter err = new StringWriter();

  private int train(String... args) {
    CommandLine cl = SwitchHeadCommand.commandLine();
    cl.setErr(new PrintWriter(err, true));
    cl.setOut(new PrintWriter(new StringWriter(), true));
    String[] all = new String[args.length + 1];
    all[0] = "train";
    System.arraycopy(args, 0, all, 1, args.length);
    return cl.execute(all);
  }

  @Test
  void aConfigFileThatIsJsonNullIsOneLineNotAStackTrace() throws Exception {
    Path config = Files.writeString(dir.resolve("null.json"), "null\n");
    int code = train("--config", config.toString(), "--out", dir.resolve("run").toString());
    assertEquals(2, code, err.toString());
    assertEquals("switchhead train: " + config + ": the document is null, expected a model config (a JSON object)",
        err.toString().strip());
  }

  @Test
  void aConfigWithAStringForANumberIsRefused() throws Exception {
    String json = ConfigJson.write(Presets.get("switchhead-tiny")).replace("\"layers\" : 4", "\"layers\" : \"4\"");
    Path config = Files.writeString(dir.resolve("quoted.json"), json);
    int code = train("--config", config.toString(), "--out", dir.resolve("run").toString());
    assertEquals(2, code, err.toString());
    assertEquals("switchhead train: " + config + ": layers: expected an integer, got the string \"4\"", err.toString().strip());
  }

  /** A cluster's mistakes are one line each, before any data is read or any server starts (the ports stay free). */
  @Test
  void aBadClusterIsRefusedBeforeAnyServerStarts() throws Exception {
    Path cluster = Files.writeString(dir.resolve("cluster.json"), "{\"worker\": [\"127.0.0.1:1\", \"127.0.0.1:2\", \"127.0.0.1:3\"]}");
    String out = dir.resolve("run").toString();
    String absent = dir.resolve("absent.txt").toString();
    assertRefused("--cluster " + dir.resolve("none.json") + ": no such file", "--cluster", dir.resolve("none.json").toString(),
        "--task", "0", "--out", out);
    assertRefused("--task (3) must be in [0, 3): " + cluster + " lists 3 workers", "--cluster", cluster.toString(), "--task", "3",
        "--out", out);
    assertRefused("--cluster needs --task I: this process's index in " + cluster + "'s \"worker\" list", "--cluster",
        cluster.toString(), "--out", out);
    assertRefused("--task applies to --cluster only", "--task", "1", "--out", out);
    assertRefused("--devices applies to one process; with --cluster each task is one replica", "--cluster", cluster.toString(),
        "--task", "0", "--devices", "2", "--out", out);
    assertRefused("--batch (16) must be divisible by the cluster's tasks (3): each device takes an equal share of the batch; "
        + "give --batch 15 or 18", "--cluster", cluster.toString(), "--task", "0", "--data", absent, "--out", out);
  }

  private void assertRefused(String message, String... args) {
    err.getBuffer().setLength(0);
    assertEquals(2, train(args), err.toString());
    assertEquals("switchhead train: " + message, err.toString().strip());
  }

  @Test
  void aBatchThatDoesNotSplitOverTheDevicesIsRefusedBeforeTheData() {
    int code = train("--devices", "3", "--batch", "16", "--data", dir.resolve("absent.txt").toString(), "--out", dir.resolve("run").toString());
    assertEquals(2, code, err.toString());
    assertEquals("switchhead train: --batch (16) must be divisible by --devices (3): each device takes an equal share of the "
        + "batch; give --batch 15 or 18", err.toString().strip());
    err.getBuffer().setLength(0);
    assertEquals(2, train("--devices", "0", "--out", dir.resolve("run").toString()), err.toString());
    assertEquals("switchhead train: --devices (0) must be >= 1", err.toString().strip());
  }

  @Test
  void skippedDataFilesAreNamedOnStderr() throws Exception {
    Path data = Files.createDirectory(dir.resolve("data"));
    Files.writeString(data.resolve("book.txt"), "It was a dark and stormy night. ".repeat(100));
    Files.write(data.resolve("cover.jpg"), new byte[] {(byte) 0xff, (byte) 0xd8, (byte) 0xff, (byte) 0xe0, 0, 16});
    // A model too small for byte tokens stops the run right after the data is read: nothing trains.
    String json = ConfigJson.write(Presets.get("switchhead-tiny")).replace("\"vocabSize\" : 256", "\"vocabSize\" : 16");
    Path config = Files.writeString(dir.resolve("small-vocab.json"), json);
    int code = train("--config", config.toString(), "--data", data.toString(), "--out", dir.resolve("run").toString());
    assertEquals(2, code, err.toString());
    String[] lines = err.toString().strip().split("\n");
    assertEquals("switchhead train: warning: skipped " + data.resolve("cover.jpg") + ": not text, a NUL byte at offset 4 (binary data, or UTF-16)",
        lines[0]);
    assertTrue(lines[1].contains("vocabSize is 16"), err.toString());
  }
}
