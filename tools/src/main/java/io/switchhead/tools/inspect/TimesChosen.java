package io.switchhead.tools.inspect;

import com.google.common.primitives.ImmutableLongArray;
import java.util.Locale;

/**
 * A head's experts by how often it chose them, in power-of-two bins: 0 times, 1, 2-3, 4-7, ...
 * The summary of a selection too wide to show expert by expert (PEER's million): how many experts
 * lay idle, how many took one choice, and how long the tail of the most chosen is.
 *
 * @param experts per bin b, how many experts were chosen [low(b), high(b)] times
 */
record TimesChosen(ImmutableLongArray experts) {

  static TimesChosen of(HeadUsage u) {
    long most = u.counts().stream().max().orElse(0);
    long[] bins = new long[bin(most) + 1];
    u.counts().forEach(c -> bins[bin(c)]++);
    return new TimesChosen(ImmutableLongArray.copyOf(bins));
  }

  /** 0 for never, else 1 + floor(log2 count): bin b > 0 holds [2^(b-1), 2^b - 1]. */
  private static int bin(long count) {
    return 64 - Long.numberOfLeadingZeros(count);
  }

  static long low(int bin) {
    return bin == 0 ? 0 : 1L << (bin - 1);
  }

  static long high(int bin) {
    return bin == 0 ? 0 : (1L << bin) - 1;
  }

  /** "0", "1", "2-3", "4-7", ... */
  static String label(int bin) {
    return low(bin) == high(bin) ? Long.toString(low(bin)) : String.format(Locale.ROOT, "%d-%d", low(bin), high(bin));
  }
}
