package io.switchhead.tools.inspect;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.ops.moe.SelectionConfig;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where one expert selection sits in the model, read from its parameter path.
 *
 * @param name the path, e.g. {@code layers/3/attention/sel_v}
 * @param layer 3
 * @param part {@code attention} or {@code ff}
 * @param kind {@code sel_v} (values), {@code sel_o} (output), {@code sel} (sigma-MoE or MH-MoE
 *     feed-forward) or {@code keys} (PEER's product keys)
 * @param selection its H, E and k; for PEER one head of E = N experts and k = h*k choices per token
 *     (see {@link #of})
 */
public record SelectionSite(String name, int layer, String part, String kind, SelectionConfig selection) {

  /** PEER's kind: its usage is named after the product keys that retrieve its experts. */
  private static final String PRODUCT_KEYS = "keys";

  private static final Pattern PATH = Pattern.compile("layers/([0-9]+)/([A-Za-z_]+)/(sel[A-Za-z_]*|keys)");

  /**
   * The inspection shows a selection expert by expert (table columns, heatmap rows, histogram bars)
   * up to this many experts; past it (PEER's N = 128^2 or 1024^2) it gives a summary instead.
   */
  static final int PER_EXPERT_MAX_EXPERTS = 256;

  /**
   * The site of the selection {@code name} as the layer describes it. PEER's heads retrieve from one
   * set of N experts (the tables are shared), so its usage is the layer's, heads together, as the
   * layer's own usage figures sum them (SEEDS-MOE.md): the site has one head choosing h*k experts.
   */
  static SelectionSite of(String name, SelectionConfig selection) {
    Matcher m = PATH.matcher(name);
    checkArgument(m.matches(), "expert selection path '%s' is not layers/<i>/<part>/sel* or PEER's layers/<i>/<part>/keys", name);
    SelectionConfig shown = m.group(3).equals(PRODUCT_KEYS)
        ? SelectionConfig.of(1, selection.experts(), selection.heads() * selection.k())
        : selection;
    return new SelectionSite(name, Integer.parseInt(m.group(1)), m.group(2), m.group(3), shown);
  }

  /**
   * The layer's ids [tokens * H * k] (id = head*E + expert, {@link io.switchhead.graph.layers.ExpertUsage#ids})
   * as this site counts them: PEER's as experts of its one head (id mod N), the others as they are.
   */
  int[] ids(int[] layerIds) {
    if (!kind.equals(PRODUCT_KEYS)) {
      return layerIds;
    }
    int[] experts = new int[layerIds.length];
    for (int i = 0; i < layerIds.length; i++) {
      experts[i] = layerIds[i] % selection.experts();
    }
    return experts;
  }

  /** Whether the inspection shows this selection expert by expert ({@link #PER_EXPERT_MAX_EXPERTS}). */
  boolean perExpert() {
    return selection.experts() <= PER_EXPERT_MAX_EXPERTS;
  }

  /** "values (sel_v)", for legends. */
  public String label() {
    return switch (kind) {
      case "sel_v" -> "values (sel_v)";
      case "sel_o" -> "output (sel_o)";
      case PRODUCT_KEYS -> "PEER experts (keys)";
      default -> partLabel() + " (" + kind + ")";
    };
  }

  /** "attention" or "feed-forward", for titles. */
  public String partLabel() {
    return part.equals("ff") ? "feed-forward" : part;
  }
}
