package io.switchhead.tools.inspect;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import com.google.common.primitives.ImmutableDoubleArray;
import com.google.common.primitives.ImmutableLongArray;
import io.switchhead.graph.layers.ExpertCounts;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

/**
 * The expert usage of one head of one selection over a text.
 *
 * <p>Unevenness is the one SEEDS-MOE.md gives (PEER's): log E + sum z_e log z_e = log E - H(z), the
 * KL divergence of the usage from uniform, 0 when every expert is used equally and log E when one
 * expert takes every choice. Here z is the share of choices (counts), where PEER sums gates: the
 * choice is what decides which experts compute.
 *
 * @param site the selection
 * @param head the head, in [0, H)
 * @param counts per expert, how many of the head's choices took it; they sum to tokens * k
 * @param shares counts / their sum
 * @param entropy H(shares) in nats, in [0, log E]
 * @param unevenness log E - entropy
 */
public record HeadUsage(SelectionSite site, int head, ImmutableLongArray counts, ImmutableDoubleArray shares, double entropy,
    double unevenness) {

  public static HeadUsage of(SelectionSite site, int head, long[] counts) {
    long total = 0;
    for (long c : counts) {
      total += c;
    }
    checkArgument(total > 0, "%s head %s: no choices counted", site.name(), head);
    double[] shares = new double[counts.length];
    double entropy = 0;
    for (int e = 0; e < counts.length; e++) {
      shares[e] = (double) counts[e] / total;
      entropy -= shares[e] > 0 ? shares[e] * Math.log(shares[e]) : 0;
    }
    return new HeadUsage(site, head, ImmutableLongArray.copyOf(counts), ImmutableDoubleArray.copyOf(shares), entropy,
        Math.log(counts.length) - entropy);
  }

  /** Every head of every selection of {@code trace}, in the model's order. */
  static ImmutableList<HeadUsage> of(RoutingTrace trace) {
    List<HeadUsage> all = new ArrayList<>();
    for (SelectionTrace s : trace.selections()) {
      ExpertCounts counts = s.counts();
      for (int h = 0; h < s.site().selection().heads(); h++) {
        all.add(of(s.site(), h, counts.head(h)));
      }
    }
    return ImmutableList.copyOf(all);
  }

  public long total() {
    return counts.stream().sum();
  }

  /** How many experts the head chose at least once. */
  public long usedExperts() {
    return counts.stream().filter(c -> c > 0).count();
  }

  /** The share of the E experts chosen at least once (PEER's usage, SEEDS-MOE.md, counted by choices). */
  public double usedShare() {
    return (double) usedExperts() / counts.length();
  }

  /** The {@code n} most chosen experts (fewer if fewer were chosen), most first, ties by id. */
  public int[] mostChosen(int n) {
    return IntStream.range(0, counts.length()).filter(e -> counts.get(e) > 0).boxed()
        .sorted(Comparator.comparingLong((Integer e) -> -counts.get(e)).thenComparing(e -> e))
        .limit(n).mapToInt(Integer::intValue).toArray();
  }
}
