package io.switchhead.graph.data;

import static com.google.common.base.Preconditions.checkArgument;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/** Token arrays read one after another, as one array (several token files of one corpus). */
final class ConcatenatedTokens implements TokenArray {

  private final List<TokenArray> parts;
  /** starts[i] is the index of part i's first token; starts[parts.size()] the total length. */
  private final long[] starts;

  private ConcatenatedTokens(List<TokenArray> parts) {
    this.parts = parts;
    this.starts = new long[parts.size() + 1];
    for (int i = 0; i < parts.size(); i++) {
      starts[i + 1] = starts[i] + parts.get(i).length();
    }
  }

  /** The non-empty parts as one array; a single one is returned as it is. */
  static TokenArray of(List<TokenArray> parts) {
    List<TokenArray> nonEmpty = parts.stream().filter(p -> p.length() > 0).toList();
    checkArgument(!nonEmpty.isEmpty(), "no tokens to concatenate");
    return nonEmpty.size() == 1 ? nonEmpty.get(0) : new ConcatenatedTokens(nonEmpty);
  }

  @Override
  public long length() {
    return starts[parts.size()];
  }

  @Override
  public int get(long index) {
    Objects.checkIndex(index, length());
    int found = Arrays.binarySearch(starts, index);
    int part = found >= 0 ? found : -found - 2; // the part that starts at or before index
    return parts.get(part).get(index - starts[part]);
  }
}
