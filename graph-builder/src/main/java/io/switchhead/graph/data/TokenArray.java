package io.switchhead.graph.data;

/** A read-only sequence of token ids. */
public interface TokenArray {

  long length();

  /** The token at {@code index}, in [0, vocabulary). */
  int get(long index);

  /** Copies {@code out.length} tokens starting at {@code start} into {@code out}. */
  default void copy(long start, int[] out) {
    for (int i = 0; i < out.length; i++) {
      out[i] = get(start + i);
    }
  }

  /** The largest token id (a full scan). */
  default int maxToken() {
    int max = -1;
    for (long i = 0; i < length(); i++) {
      max = Math.max(max, get(i));
    }
    return max;
  }
}
