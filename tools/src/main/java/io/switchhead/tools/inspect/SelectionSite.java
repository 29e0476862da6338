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
 * @param kind {@code sel_v} (values), {@code sel_o} (output) or {@code sel} (sigma-MoE feed-forward)
 * @param selection its H, E and k
 */
public record SelectionSite(String name, int layer, String part, String kind, SelectionConfig selection) {

  private static final Pattern PATH = Pattern.compile("layers/([0-9]+)/([A-Za-z_]+)/(sel[A-Za-z_]*)");

  static SelectionSite of(String name, SelectionConfig selection) {
    Matcher m = PATH.matcher(name);
    checkArgument(m.matches(), "expert selection path '%s' is not layers/<i>/<part>/sel*", name);
    return new SelectionSite(name, Integer.parseInt(m.group(1)), m.group(2), m.group(3), selection);
  }

  /** "values (sel_v)", for legends. */
  public String label() {
    return switch (kind) {
      case "sel_v" -> "values (sel_v)";
      case "sel_o" -> "output (sel_o)";
      default -> partLabel() + " (" + kind + ")";
    };
  }

  /** "attention" or "feed-forward", for titles. */
  public String partLabel() {
    return part.equals("ff") ? "feed-forward" : part;
  }
}
