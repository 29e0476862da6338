package io.switchhead.tools.inspect;

import com.google.common.collect.ImmutableList;
import io.switchhead.graph.accounting.AttentionCost;
import io.switchhead.graph.accounting.GraphMacs;
import io.switchhead.graph.accounting.ModelReport;
import io.switchhead.graph.accounting.ParameterCount;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.params.ParamSpec;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.GraphOps;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.tensorflow.Graph;

/**
 * Parameters, attention MACs and activation memory per layer and in total, the paper's formulas
 * beside the built graph's exact counts; for SwitchHead, the ratios against its matched dense
 * baseline (the paper's claim: the same parameters for fewer MACs and less memory).
 *
 * @param rows the embedding, each layer, the output (final norm and output layer)
 * @param versusBaseline empty for a dense model or one without a matched preset
 */
public record CostTable(ImmutableList<CostRow> rows, CostRow total, List<Ratios> versusBaseline) {

  /**
   * This model's numbers over its baseline's: parameters in total, attention MACs and memory per layer.
   *
   * @param baseline the dense preset's name
   */
  public record Ratios(String baseline, double parameters, double paperMacs, double graphMacs, double paperMemory,
      double graphActivations) {}

  public CostTable {
    rows = ImmutableList.copyOf(rows);
    versusBaseline = List.copyOf(versusBaseline);
  }

  /** The row of layer {@code i}. */
  public CostRow layer(int i) {
    return rows.get(i + 1);
  }

  public static CostTable of(ModelConfig c) {
    CostTable own = unpaired(c);
    return MatchedBaseline.of(c).map(b -> {
      CostTable dense = unpaired(b.model());
      CostRow s = own.layer(0);
      CostRow d = dense.layer(0);
      Ratios r = new Ratios(b.name(), (double) own.total.paperParameters() / dense.total.paperParameters(),
          s.paperMacs() / d.paperMacs(), (double) s.graphMacs() / d.graphMacs(), s.paperMemoryFloats() / d.paperMemoryFloats(),
          (double) s.graphActivationFloats() / d.graphActivationFloats());
      return new CostTable(own.rows, own.total, List.of(r));
    }).orElse(own);
  }

  private static CostTable unpaired(ModelConfig c) {
    ParameterCount count = ParameterCount.of(c);
    try (Graph g = new Graph()) {
      ParamStore store = ModelReport.buildForCounting(c, GraphOps.create(g));
      List<CostRow> rows = new ArrayList<>();
      rows.add(new CostRow("embedding", count.embedding(), built(store, p -> p.startsWith("embedding")), 0, 0, 0, 0));
      double paperMacs = AttentionCost.paperMacs(c.attention(), c.dModel(), c.context());
      double paperMemory = AttentionCost.paperMemoryFloats(c.attention(), c.context());
      for (int i = 0; i < c.layers(); i++) {
        String layer = "layers/" + i + "/";
        String attention = layer + "attention/";
        rows.add(new CostRow("layers/" + i, count.perLayer(i), built(store, p -> p.startsWith(layer)), paperMacs,
            GraphMacs.count(g, attention), paperMemory, ActivationFloats.count(g, attention)));
      }
      rows.add(new CostRow("output", count.output(),
          built(store, p -> !p.startsWith("embedding") && !p.startsWith("layers/")), 0, 0, 0, 0));
      CostRow total = rows.stream().reduce(new CostRow("total", 0, 0, 0, 0, 0, 0), (a, b) -> a.plus("total", b));
      return new CostTable(ImmutableList.copyOf(rows), total, List.of());
    }
  }

  private static long built(ParamStore store, Predicate<String> path) {
    return store.specs().stream().filter(s -> path.test(s.path())).mapToLong(ParamSpec::size).sum();
  }
}
