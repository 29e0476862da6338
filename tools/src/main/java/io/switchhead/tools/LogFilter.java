package io.switchhead.tools;

import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The {@code ./switchhead} launcher's filter of TensorFlow's log lines: a child process that reads
 * this JVM's stderr and passes on all but TensorFlow's info and warning lines. The JVM is the
 * launcher's process (exec), so a caller sees it exit, and could read a file its stderr went to,
 * before the filter has written the last lines, unless the JVM waits for the filter first.
 */
final class LogFilter {

  /** The filter's pid, set by the launcher where it filters (not with --verbose). */
  static final String PID_ENV = "SWITCHHEAD_LOG_FILTER_PID";

  private LogFilter() {}

  /**
   * Where the launcher's filter reads this JVM's stderr: closes stderr (the JDK points the
   * descriptor at /dev/null, so the filter reads end of file) and waits, at most a few seconds,
   * until the filter has written what it read and exited. Nothing written to stderr afterwards
   * arrives; call it last, before exiting. Does nothing without the launcher's filter.
   */
  static void drainBeforeExit() {
    Optional<ProcessHandle> filter = filterProcess(System.getenv(PID_ENV));
    if (filter.isEmpty()) {
      return;
    }
    System.err.flush();
    System.err.close();
    try {
      filter.get().onExit().get(3, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      // Exit anyway: the lines still come, later.
    }
  }

  /** The filter named by the launcher, if it is a live child of this process (the env may be inherited). */
  static Optional<ProcessHandle> filterProcess(String pid) {
    if (pid == null || !pid.matches("[0-9]+")) {
      return Optional.empty();
    }
    long self = ProcessHandle.current().pid();
    return ProcessHandle.of(Long.parseLong(pid))
        .filter(p -> p.parent().map(ProcessHandle::pid).orElse(-1L) == self);
  }
}
