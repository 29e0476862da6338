package io.switchhead.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** How the command line reports bad input. */
class SwitchHeadCommandTest {

  @Test
  void badBenchmarkOptionIsOneLineNamingItWithTheUsageExitCode() {
    StringWriter err = new StringWriter();
    CommandLine cl = SwitchHeadCommand.commandLine();
    cl.setErr(new PrintWriter(err, true));

    int code = cl.execute("bench", "matmul", "mode=xla");

    assertEquals(cl.getCommandSpec().exitCodeOnInvalidInput(), code);
    String message = err.toString().strip();
    assertTrue(message.startsWith("switchhead bench matmul: unknown option mode"), message);
    assertFalse(message.contains("\n") || message.contains("\tat "), "one line, no stack trace: " + message);
  }

  @Test
  void aMistypedPresetIsReportedBeforeTheCorpusIsRead(@TempDir Path dir) {
    StringWriter err = new StringWriter();
    CommandLine cl = SwitchHeadCommand.commandLine();
    cl.setErr(new PrintWriter(err, true));

    int code = cl.execute("train", "--preset", "switchhead-tinny", "--data", dir.resolve("no-such-corpus.txt").toString(), "--out", dir.resolve("run").toString());

    assertEquals(cl.getCommandSpec().exitCodeOnInvalidInput(), code);
    assertTrue(err.toString().startsWith("switchhead train: unknown preset 'switchhead-tinny'"), err.toString());
  }

  @Test
  void anUnreadableConfigFileIsOneLineNamingIt(@TempDir Path dir) {
    StringWriter err = new StringWriter();
    CommandLine cl = SwitchHeadCommand.commandLine();
    cl.setErr(new PrintWriter(err, true));
    Path missing = dir.resolve("missing.json");

    int code = cl.execute("train", "--config", missing.toString(), "--out", dir.resolve("run").toString());

    assertEquals(cl.getCommandSpec().exitCodeOnExecutionException(), code);
    String message = err.toString().strip();
    assertTrue(message.startsWith("switchhead train: ") && message.contains(missing.toString()) && message.contains("NoSuchFileException"), message);
    assertFalse(message.contains("\n"), "one line: " + message);
  }
}
