package io.switchhead.graph.layers;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkElementIndex;

import io.switchhead.ops.moe.SelectionConfig;
import java.util.Arrays;

/**
 * How often each expert of one selection was chosen, per head: the usage histogram that the
 * routing inspection draws and the trainer logs. Counts accumulate over {@link #add} calls, one
 * per batch of tokens; every token adds k to each head, or with dynamic k (our design) the K it used.
 */
public final class ExpertCounts {

  private final String name;
  private final SelectionConfig selection;
  private final long[][] counts; // [H][E]

  private ExpertCounts(String name, SelectionConfig selection) {
    this.name = name;
    this.selection = selection;
    this.counts = new long[selection.heads()][selection.experts()];
  }

  /** No tokens counted yet, for the selection {@code usage} describes. */
  public static ExpertCounts empty(ExpertUsage usage) {
    return new ExpertCounts(usage.name(), usage.selection());
  }

  /** No tokens counted yet, for a selection named {@code name}. */
  public static ExpertCounts empty(String name, SelectionConfig selection) {
    return new ExpertCounts(name, selection);
  }

  /**
   * Counts the choices of a batch of tokens.
   *
   * @param ids [N, H*k] flattened, as {@link ExpertUsage#ids} holds them: slot s of a token is head
   *     s / k's choice, id = head*E + expert
   * @throws IllegalArgumentException if the ids are not whole tokens, or an id is not one of its
   *     slot's head (the ids would then not be what the layer computed with)
   */
  public void add(int[] ids) {
    add(ids, null);
  }

  /**
   * Counts the choices of a batch of tokens of a dynamic-k selection: slot h*k + j of a token counts
   * when j < its K (the others had gate 0).
   *
   * @param kPerToken one K in [1, k] per token; null counts every slot
   */
  public void add(int[] ids, int[] kPerToken) {
    int h = selection.heads();
    int e = selection.experts();
    int k = selection.k();
    int slots = h * k;
    checkArgument(ids.length % slots == 0, "%s: %s ids are not whole tokens of H*k = %s slots", name, ids.length, slots);
    checkArgument(kPerToken == null || kPerToken.length * slots == ids.length, "%s: %s K values for %s tokens",
        name, kPerToken == null ? 0 : kPerToken.length, ids.length / slots);
    for (int i = 0; i < ids.length; i++) {
      if (kPerToken != null) {
        int used = kPerToken[i / slots];
        checkArgument(used >= 1 && used <= k, "%s: K (%s) of token %s must be in [1, k = %s]", name, used, i / slots, k);
        if (i % k >= used) {
          continue;
        }
      }
      int head = (i % slots) / k;
      int id = ids[i];
      checkArgument(id >= head * e && id < (head + 1) * e, "%s: id %s in slot %s belongs to no expert of head %s (E = %s)",
          name, id, i % slots, head, e);
      counts[head][id - head * e]++;
    }
  }

  public String name() {
    return name;
  }

  public SelectionConfig selection() {
    return selection;
  }

  /** The counts of {@code head}'s experts, a copy. */
  public long[] head(int head) {
    checkElementIndex(head, counts.length, "head");
    return counts[head].clone();
  }

  /**
   * The share of {@code head}'s E experts chosen at least once: 1 when every expert is used. For
   * routers whose gates are all positive this is the spec's share of experts with a nonzero summed gate.
   */
  public double usageShare(int head) {
    return (double) Arrays.stream(head(head)).filter(c -> c > 0).count() / selection.experts();
  }

  /**
   * log E + sum_e z_e log z_e with z the normalised counts of {@code head}: 0 for an even usage,
   * log E when one expert takes every choice (SEEDS-MOE.md's unevenness, over choice counts where the
   * spec normalises summed gates); 0 before anything is counted.
   */
  public double unevenness(int head) {
    long[] c = head(head);
    double total = Arrays.stream(c).sum();
    double sum = Math.log(selection.experts());
    for (long n : c) {
      if (n > 0 && total > 0) {
        double z = n / total;
        sum += z * Math.log(z);
      }
    }
    return total > 0 ? sum : 0;
  }

  /** All choices of {@code head}: tokens counted times k (with dynamic k, the sum of their K). */
  public long total(int head) {
    return Arrays.stream(head(head)).sum();
  }
}
