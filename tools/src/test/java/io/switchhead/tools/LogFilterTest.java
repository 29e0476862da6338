package io.switchhead.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Which process the JVM waits for before it exits: only a child of its own, named by the launcher. */
class LogFilterTest {

  @Test
  void onlyALiveChildOfThisProcessCounts() throws Exception {
    assertTrue(LogFilter.filterProcess(null).isEmpty());
    assertTrue(LogFilter.filterProcess("").isEmpty());
    assertTrue(LogFilter.filterProcess("12x").isEmpty());
    // An inherited pid that is not our child: init, or this JVM itself.
    assertTrue(LogFilter.filterProcess("1").isEmpty());
    assertTrue(LogFilter.filterProcess(Long.toString(ProcessHandle.current().pid())).isEmpty());
    Process child = new ProcessBuilder("sleep", "30").start();
    try {
      assertEquals(child.pid(), LogFilter.filterProcess(Long.toString(child.pid())).orElseThrow().pid());
    } finally {
      child.destroyForcibly();
      child.waitFor(10, TimeUnit.SECONDS);
    }
  }
}
