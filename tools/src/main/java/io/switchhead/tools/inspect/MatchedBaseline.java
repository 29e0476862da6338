package io.switchhead.tools.inspect;

import io.switchhead.graph.config.DenseAttentionConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Presets;
import io.switchhead.graph.config.SwitchHeadConfig;
import java.util.Optional;

/**
 * The dense preset a SwitchHead model is compared with, found by the paper's matching rule
 * (SWITCHHEAD.md section 5): same width, depth, context, vocabulary and positional encoding, and as
 * many dense heads as SwitchHead's H*E. Found from the presets, so a new pair needs no list here.
 */
public final class MatchedBaseline {

  /** A dense preset and its name. */
  public record Baseline(String name, ModelConfig model) {}

  private MatchedBaseline() {}

  /** The matched dense preset of a SwitchHead model; empty for a dense model or when no preset matches. */
  public static Optional<Baseline> of(ModelConfig c) {
    if (!(c.attention() instanceof SwitchHeadConfig s)) {
      return Optional.empty();
    }
    for (String name : Presets.names()) {
      ModelConfig p = Presets.get(name);
      if (p.attention() instanceof DenseAttentionConfig d && d.heads() == s.heads() * s.experts()
          && d.positional() == s.positional() && p.dModel() == c.dModel() && p.layers() == c.layers()
          && p.context() == c.context() && p.vocabSize() == c.vocabSize()) {
        return Optional.of(new Baseline(name, p));
      }
    }
    return Optional.empty();
  }
}
