package io.switchhead.tools.inspect;

import java.util.Locale;

/** Counts as people read them in a table: 47.2M, 2.73G, 930.8k. */
public final class HumanNumbers {

  private HumanNumbers() {}

  public static String format(double v) {
    if (v >= 1e9) {
      return String.format(Locale.ROOT, "%.2fG", v / 1e9);
    }
    if (v >= 1e6) {
      return String.format(Locale.ROOT, "%.1fM", v / 1e6);
    }
    if (v >= 1e3) {
      return String.format(Locale.ROOT, "%.1fk", v / 1e3);
    }
    return String.format(Locale.ROOT, "%.0f", v);
  }
}
