package io.switchhead.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TestPythonTest {

  @Test
  void runsAScriptWithArgumentsAndReportsAFailure() {
    assertEquals("6\n", TestPython.script("import sys; print(int(sys.argv[1]) * 2)", 60, "3").requireSuccess());
    AssertionError failed = assertThrows(AssertionError.class,
        () -> TestPython.script("import sys; sys.stderr.write('broken'); sys.exit(3)", 60).requireSuccess());
    assertTrue(failed.getMessage().contains("exited with 3") && failed.getMessage().contains("broken"), failed.getMessage());
  }

  @Test
  void aMissingInterpreterSaysHowToInstallTheEnvironment() {
    String before = System.getProperty("switchhead.python");
    System.setProperty("switchhead.python", "/nonexistent/python");
    try {
      AssertionError missing = assertThrows(AssertionError.class, TestPython::interpreter);
      assertTrue(missing.getMessage().contains(".ci/python-env"), missing.getMessage());
    } finally {
      if (before == null) {
        System.clearProperty("switchhead.python");
      } else {
        System.setProperty("switchhead.python", before);
      }
    }
  }
}
