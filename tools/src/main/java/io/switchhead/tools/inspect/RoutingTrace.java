package io.switchhead.tools.inspect;

import com.google.common.collect.ImmutableList;

/**
 * What the model's routers chose over a text: the text's tokens (bytes) and, per selection in the
 * model's order, the experts chosen for each of them.
 */
record RoutingTrace(int[] tokens, ImmutableList<SelectionTrace> selections) {

  /** The selections of {@code layer}, in the model's order (values, output, feed-forward). */
  ImmutableList<SelectionTrace> layer(int layer) {
    return ImmutableList.copyOf(selections.stream().filter(s -> s.site().layer() == layer).toList());
  }

  int layers() {
    return selections.stream().mapToInt(s -> s.site().layer() + 1).max().orElse(0);
  }
}
