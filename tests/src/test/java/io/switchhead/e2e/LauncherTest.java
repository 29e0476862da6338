package io.switchhead.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The launcher itself. */
class LauncherTest {

  @Test
  void withNoArgumentsItPrintsTheHelp() throws Exception {
    try (Launcher l = Launcher.start()) {
      assertEquals(0, l.waitFor(5), l.output());
      assertTrue(l.output().contains("Usage: switchhead"), l.output());
      assertTrue(l.output().contains("train"), l.output());
    }
  }

  @Test
  void infoShowsTensorFlowAndWorkingXla() throws Exception {
    try (Launcher l = Launcher.start("info")) {
      assertEquals(0, l.waitFor(5), l.output());
      assertTrue(l.output().contains("TensorFlow 2.18"), l.output());
      assertTrue(l.output().contains("XLA must-compile functions: work"), l.output());
      // The launcher sets the flag the native library reads at load time.
      assertTrue(l.output().contains("XLA CPU auto-clustering: enabled"), l.output());
    }
  }
}
