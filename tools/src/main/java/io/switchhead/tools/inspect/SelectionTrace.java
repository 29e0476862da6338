package io.switchhead.tools.inspect;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkElementIndex;

import io.switchhead.graph.layers.ExpertCounts;

/**
 * The experts one selection chose for every token of a text.
 *
 * @param ids [tokens * H * k], token-major, as the layer holds them: id = head*E + expert
 */
record SelectionTrace(SelectionSite site, int[] ids) {

  SelectionTrace {
    int slots = site.selection().heads() * site.selection().k();
    checkArgument(ids.length % slots == 0, "%s: %s ids are not whole tokens of H*k = %s", site.name(), ids.length, slots);
  }

  int tokens() {
    return ids.length / (site.selection().heads() * site.selection().k());
  }

  /** Whether {@code token}'s head {@code head} chose {@code expert} (within the head, in [0, E)). */
  boolean chose(int token, int head, int expert) {
    int k = site.selection().k();
    checkElementIndex(token, tokens(), "token");
    int id = head * site.selection().experts() + expert;
    for (int j = 0; j < k; j++) {
      if (ids[(token * site.selection().heads() + head) * k + j] == id) {
        return true;
      }
    }
    return false;
  }

  /** The usage histogram of every head. */
  ExpertCounts counts() {
    ExpertCounts counts = ExpertCounts.empty(site.name(), site.selection());
    counts.add(ids);
    return counts;
  }
}
