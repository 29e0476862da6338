package io.switchhead.tools.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The CPU a figure was measured on, as {@code lscpu} names it, with the cores this process may use. */
final class CpuName {

  private CpuName() {}

  static String describe() {
    String name = "unknown CPU";
    try {
      name = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
          .map(l -> l.substring(l.indexOf(':') + 1).trim()).findFirst().orElse(name);
    } catch (IOException e) {
      // Not Linux: the cores alone still say something.
    }
    return name + ", " + Runtime.getRuntime().availableProcessors() + " cores";
  }
}
