package io.switchhead.tools.bench;

import static com.google.common.base.Preconditions.checkArgument;

import java.util.Arrays;
import java.util.List;

/**
 * How many of a traced step's nodes ran at once, over the step's span: the time in which none ran
 * (the executor between nodes), exactly one ran, and two or more did. It tells a step that leaves
 * cores idle, waiting on a chain of nodes one at a time, from one whose cores are busy and whose
 * time is the kernels' own. A node that spreads its work over the intra-op threads counts once.
 *
 * @param spanMicros from the first node's start to the last node's end
 */
public record NodeOverlap(long spanMicros, long idleMicros, long oneMicros, long severalMicros) {

  /** A node's run, from its start to its end in microseconds. */
  public record Run(long start, long end) {
    public Run {
      checkArgument(end >= start, "a node cannot end (%s) before it starts (%s)", end, start);
    }
  }

  /** The overlap of {@code runs}; a run of no length counts toward the span only. */
  public static NodeOverlap of(List<Run> runs) {
    if (runs.isEmpty()) {
      return new NodeOverlap(0, 0, 0, 0);
    }
    long first = runs.stream().mapToLong(Run::start).min().getAsLong();
    long last = runs.stream().mapToLong(Run::end).max().getAsLong();
    // Each run as two events in one sorted array: time * 2, + 1 for a start.
    long[] events = runs.stream().filter(r -> r.end() > r.start())
        .flatMapToLong(r -> Arrays.stream(new long[] {r.start() * 2 + 1, r.end() * 2})).sorted().toArray();
    long[] byCount = new long[3]; // none, one, several
    long at = first;
    int running = 0;
    for (long event : events) {
      long time = event >> 1;
      byCount[Math.min(running, 2)] += time - at;
      at = time;
      running += (event & 1) == 1 ? 1 : -1;
    }
    byCount[0] += last - at;
    return new NodeOverlap(last - first, byCount[0], byCount[1], byCount[2]);
  }

  /** Shares of the span, in percent: none, one, several. */
  public double[] percents() {
    double span = Math.max(1, spanMicros);
    return new double[] {100 * idleMicros / span, 100 * oneMicros / span, 100 * severalMicros / span};
  }
}
