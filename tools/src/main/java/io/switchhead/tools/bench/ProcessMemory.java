package io.switchhead.tools.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * This process's resident memory as Linux reports it ({@code /proc/self/status}): all of it, the
 * JVM's heap and TensorFlow's native allocations alike, which no allocator's accounting sees whole.
 */
final class ProcessMemory {

  private static final Path STATUS = Path.of("/proc/self/status");

  private ProcessMemory() {}

  /** Resident bytes now (VmRSS). */
  static long residentBytes() {
    return field("VmRSS:");
  }

  /** The most resident bytes so far (VmHWM, the high-water mark). */
  static long peakResidentBytes() {
    return field("VmHWM:");
  }

  private static long field(String name) {
    try {
      for (String line : Files.readAllLines(STATUS)) {
        if (line.startsWith(name)) {
          // "VmRSS:	  123456 kB"
          return Long.parseLong(line.substring(name.length()).trim().split("\\s+")[0]) * 1024;
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + STATUS + " (the resident memory figures need Linux)", e);
    }
    throw new IllegalStateException(STATUS + " has no " + name + " line");
  }
}
