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

  /** A point to measure this process's CPU use from: {@link #cores()} is its use since, in cores. */
  record Since(long cpuAt, long wallAt) {
    static Since now() {
      return new Since(JvmCpu.cpuNanos(), System.nanoTime());
    }

    /** CPU time used since this point over the wall time elapsed: 1.0 is one core busy throughout. */
    double cores() {
      return (double) (JvmCpu.cpuNanos() - cpuAt) / (System.nanoTime() - wallAt);
    }
  }

  /** CPU nanoseconds this process has used, all its threads, native ones included. */
  private static long cpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  /**
   * Waits until a sample finds this JVM below {@link #QUIET_CORES}; returns the milliseconds waited.
   * A rate of CPU use is only defined over an interval, and nothing signals that TensorFlow's, the
   * JIT's or the collector's threads have gone idle, so each sample sleeps its interval.
   */
  static long awaitQuiet() {
    long start = System.nanoTime();
    while ((System.nanoTime() - start) / 1_000_000 < MAX_WAIT_MILLIS) {
      Since sample = Since.now();
      try {
        Thread.sleep(SAMPLE_MILLIS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      if (sample.cores() < QUIET_CORES) {
        break;
      }
    }
    return (System.nanoTime() - start) / 1_000_000;
  }
}
