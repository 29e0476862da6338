package io.switchhead.tools.bench;

import java.lang.management.ManagementFactory;

/**
 * The CPU time this JVM uses, for the PyTorch reference's runs: a child timed while this process
 * still computes in the background (TensorFlow's own threads, the JIT, the collector) shares the
 * cores with it, and torch's OpenMP threads, spinning on a descheduled peer, then run many times
 * slower (on 2 cores, the first repetition's runs once took 30-70 times their later ms/step). So a
 * run waits until this process is quiet, and says how busy it was meanwhile.
 */
final class JvmCpu {

  /** Below this share of one core over a sample, the JVM counts as quiet. */
  static final double QUIET_CORES = 0.05;

  private static final long SAMPLE_MILLIS = 250;

  /** How long a run waits for quiet before it starts anyway (and the share it reports tells). */
  private static final long MAX_WAIT_MILLIS = 60_000;

  private JvmCpu() {}

  /** CPU nanoseconds this process has used, all its threads, native ones included. */
  static long nanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  /** Waits until a sample finds this JVM below {@link #QUIET_CORES}; returns the milliseconds waited. */
  static long awaitQuiet() {
    long start = System.nanoTime();
    while ((System.nanoTime() - start) / 1_000_000 < MAX_WAIT_MILLIS) {
      long cpu = nanos();
      long wall = System.nanoTime();
      try {
        Thread.sleep(SAMPLE_MILLIS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      if ((double) (nanos() - cpu) / (System.nanoTime() - wall) < QUIET_CORES) {
        break;
      }
    }
    return (System.nanoTime() - start) / 1_000_000;
  }
}
