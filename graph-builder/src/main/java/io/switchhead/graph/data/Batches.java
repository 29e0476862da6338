package io.switchhead.graph.data;

/** Training batches as a pure function of the step: [batch * (context + 1)] tokens, row-major. */
public interface Batches {

  int[] batch(long step);
}
