package io.switchhead.tools.inspect;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * The routing numbers as JSON for scripts: per selection its place and H, E, k, and per head the
 * counts and shares (for a selection of more than {@link SelectionSite#PER_EXPERT_MAX_EXPERTS}
 * experts, PEER's, the most chosen and the experts by times chosen instead), the share of experts
 * used, entropy and unevenness; the pictures' paths.
 */
final class RoutingJson {

  private static final ObjectMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

  /** How many of a wide selection's most chosen experts the JSON lists. */
  static final int MOST_CHOSEN = 20;

  private RoutingJson() {}

  static void print(RoutingSummary summary, PrintWriter out) {
    try {
      out.println(JSON.writeValueAsString(tree(summary)));
      out.flush();
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException("cannot write the routing numbers as JSON", e);
    }
  }

  static ObjectNode tree(RoutingSummary summary) {
    ObjectNode root = JSON.createObjectNode();
    root.put("checkpoint", summary.checkpoint().toString());
    root.put("text", summary.text().toString());
    root.put("tokens", summary.tokens());
    root.put("entropy", "nats, of the share of choices per expert");
    root.put("unevenness", "log E - entropy (SEEDS-MOE.md), 0 for even usage");
    ArrayNode selections = root.putArray("selections");
    ObjectNode current = null;
    for (HeadUsage u : summary.usage()) {
      if (current == null || !current.get("name").asText().equals(u.site().name())) {
        current = selections.addObject();
        current.put("name", u.site().name());
        current.put("layer", u.site().layer());
        current.put("part", u.site().part());
        current.put("kind", u.site().kind());
        current.put("heads", u.site().selection().heads());
        current.put("experts", u.site().selection().experts());
        current.put("k", u.site().selection().k());
        current.putArray("perHead");
      }
      ObjectNode head = ((ArrayNode) current.get("perHead")).addObject();
      head.put("head", u.head());
      if (u.site().perExpert()) {
        u.counts().forEach(head.putArray("counts")::add);
        u.shares().forEach(head.putArray("shares")::add);
      } else {
        // A million-wide selection (PEER): its most chosen experts and how often the others were chosen.
        ArrayNode most = head.putArray("mostChosen");
        for (int e : u.mostChosen(MOST_CHOSEN)) {
          most.addObject().put("expert", e).put("count", u.counts().get(e)).put("share", u.shares().get(e));
        }
        ArrayNode times = head.putArray("timesChosen");
        TimesChosen bins = TimesChosen.of(u);
        for (int b = 0; b < bins.experts().length(); b++) {
          times.addObject().put("from", TimesChosen.low(b)).put("to", TimesChosen.high(b)).put("experts", bins.experts().get(b));
        }
      }
      head.put("usedExperts", u.usedExperts());
      head.put("usedShare", u.usedShare());
      head.put("entropy", u.entropy());
      head.put("unevenness", u.unevenness());
    }
    ArrayNode pictures = root.putArray("pictures");
    summary.pictures().stream().map(Path::toString).forEach(pictures::add);
    return root;
  }
}
