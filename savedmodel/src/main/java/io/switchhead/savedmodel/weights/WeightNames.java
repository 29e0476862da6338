package io.switchhead.savedmodel.weights;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.base.Splitter;
import com.google.common.collect.ImmutableList;
import io.switchhead.graph.config.AttentionConfig;
import io.switchhead.graph.config.FeedForwardConfig;
import io.switchhead.graph.config.MhMoeConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.PeerConfig;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.model.ForwardGraph;
import io.switchhead.graph.params.ParamSpec;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.GraphOps;
import java.util.List;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TInt32;

/**
 * The names and layouts of a model's parameters in safetensors files, in PyTorch's state-dict style
 * (dots, {@code .weight} of a Linear stored [out, in]). SwitchHead attention keeps the names and
 * shapes of the authors' PyTorch module (RobertCsordas/switchhead, {@code SwitchHeadCore} and
 * {@code SwitchHeadXL}): {@code q.weight, k.weight} [H*dh, D], {@code v} [H*E, D, dh], {@code o}
 * [H*E, dh, D], {@code sel_v, sel_o} [H*E, D], {@code pos_to_pk} [H*dh, D]; with E = 1 that module
 * has dense {@code v} [H*dh, D] and {@code o} [D, H*dh] and no {@code sel_v}. The sigma-MoE
 * feed-forward keeps those of the authors' MoE layer ({@code expert_sel} [E, D], {@code keys}
 * [E, D, G], {@code values} [E, G, D]). The rest: {@code nn.Embedding}, {@code nn.LayerNorm} and
 * {@code nn.Linear} names ({@code linear1}, {@code linear2} as in {@code nn.TransformerEncoderLayer}).
 * Each block's parameters are under {@code layers.<i>.}; the README's table lists every name.
 */
public final class WeightNames {

  /** A parameter's name under its module's prefix, and its layout. */
  private record Rule(String name, Layout layout) {}

  private static final Map<String, Rule> NORM = Map.of("weight", new Rule("weight", Layout.AS_IS), "bias", new Rule("bias", Layout.AS_IS));

  private WeightNames() {}

  /**
   * Every parameter of {@code model}, in the model's parameter order, then its buffers (PEER's
   * BatchNorm statistics), which travel with the parameters as they do in a PyTorch state dict.
   */
  public static ImmutableList<WeightName> of(ModelConfig model) {
    return of(model, specs(model));
  }

  /**
   * The given parameters of {@code model} (those a graph of it created).
   *
   * @throws IllegalArgumentException naming a parameter this scheme has no name for
   */
  public static ImmutableList<WeightName> of(ModelConfig model, List<ParamSpec> specs) {
    return specs.stream().map(s -> name(model, s)).collect(ImmutableList.toImmutableList());
  }

  private static WeightName name(ModelConfig model, ParamSpec spec) {
    List<String> parts = Splitter.on('/').splitToList(spec.path());
    String leaf = parts.get(parts.size() - 1);
    String module = parts.size() == 1 ? "" : parts.get(parts.size() - 2);
    Map<String, Rule> rules = switch (module) {
      case "" -> Map.of("embedding", new Rule("weight", Layout.AS_IS));
      case "output" -> Map.of("w", new Rule("weight", Layout.TRANSPOSED), "b", new Rule("bias", Layout.AS_IS));
      case "final_norm", "attention_norm", "ff_norm" -> NORM;
      case "attention" -> attention(model.attention());
      case "ff" -> feedForward(model.feedForward().forBlock(block(parts)));
      default -> Map.of();
    };
    Rule rule = rules.get(leaf);
    if (rule == null) {
      throw new IllegalArgumentException("parameter '" + spec.path() + "' has no name in the safetensors scheme (WeightNames): "
          + "a new parameter needs one");
    }
    String prefix = String.join(".", parts.subList(0, parts.size() - 1));
    String owner = parts.size() == 1 ? leaf : prefix;
    return new WeightName(spec.path(), spec.shape(), owner + "." + rule.name(), rule.layout().fileShape(spec.shape()), rule.layout());
  }

  /** The block of a path layers/<i>/...; feed-forwards may differ by block. */
  private static int block(List<String> parts) {
    checkArgument(parts.size() > 2 && parts.get(0).equals("layers"), "a feed-forward parameter outside layers/<i>/: %s", parts);
    return Integer.parseInt(parts.get(1));
  }

  private static Map<String, Rule> attention(AttentionConfig a) {
    Rule q = new Rule("q.weight", Layout.TRANSPOSED);
    Rule k = new Rule("k.weight", Layout.TRANSPOSED);
    Rule positions = new Rule("pos_to_pk", Layout.TRANSPOSED);
    if (a instanceof SwitchHeadConfig s) {
      boolean dense = s.experts() == 1;
      return Map.of("q", q, "k", k, "pos_to_pk", positions,
          "v", new Rule("v", dense ? Layout.HEADS_TO_ROWS : Layout.AS_IS),
          "o", new Rule("o", dense ? Layout.HEADS_TO_COLUMNS : Layout.AS_IS),
          "sel_v", new Rule("sel_v", Layout.AS_IS), "sel_o", new Rule("sel_o", Layout.AS_IS));
    }
    return Map.of("q", q, "k", k, "pos_to_pk", positions, "v", new Rule("v.weight", Layout.TRANSPOSED),
        "o", new Rule("o.weight", Layout.TRANSPOSED), "u_bias", new Rule("u_bias", Layout.AS_IS),
        "v_bias", new Rule("v_bias", Layout.AS_IS));
  }

  private static Map<String, Rule> feedForward(FeedForwardConfig f) {
    if (f instanceof MhMoeConfig) {
      // The names of the MH-MoE code (yushuiwx/MH-MoE on torchscale): multi_head_layer, gate.wg, the
      // experts' fc1..fc3 stacked [E, in, out] as the sigma-MoE's keys, merge_layer.
      return Map.of("head_w", new Rule("multi_head_layer.weight", Layout.TRANSPOSED), "head_b", new Rule("multi_head_layer.bias", Layout.AS_IS),
          "sel", new Rule("gate.wg.weight", Layout.AS_IS), "fc1", new Rule("experts.fc1", Layout.AS_IS),
          "fc2", new Rule("experts.fc2", Layout.AS_IS), "fc3", new Rule("experts.fc3", Layout.AS_IS),
          "merge_w", new Rule("merge_layer.weight", Layout.TRANSPOSED), "merge_b", new Rule("merge_layer.bias", Layout.AS_IS));
    }
    if (f instanceof PeerConfig) {
      // PEER-pytorch's (lucidrains) names: experts as nn.Embedding tables, the query Linear and its BatchNorm1d.
      return Map.of("query", new Rule("to_queries.weight", Layout.TRANSPOSED), "bn_scale", new Rule("query_norm.weight", Layout.AS_IS),
          "bn_bias", new Rule("query_norm.bias", Layout.AS_IS), "keys1", new Rule("keys1", Layout.AS_IS),
          "keys2", new Rule("keys2", Layout.AS_IS), "u", new Rule("weight_down_embed.weight", Layout.AS_IS),
          "v", new Rule("weight_up_embed.weight", Layout.AS_IS), "bn_mean", new Rule("query_norm.running_mean", Layout.AS_IS),
          "bn_variance", new Rule("query_norm.running_var", Layout.AS_IS));
    }
    if (f instanceof SigmaMoeConfig) {
      return Map.of("sel", new Rule("expert_sel", Layout.AS_IS), "keys", new Rule("keys", Layout.AS_IS),
          "values", new Rule("values", Layout.AS_IS));
    }
    return Map.of("w1", new Rule("linear1.weight", Layout.TRANSPOSED), "b1", new Rule("linear1.bias", Layout.AS_IS),
        "w2", new Rule("linear2.weight", Layout.TRANSPOSED), "b2", new Rule("linear2.bias", Layout.AS_IS));
  }

  /** The parameters and buffers a graph of {@code model} creates (placeholders only: nothing is initialised or run). */
  private static ImmutableList<ParamSpec> specs(ModelConfig model) {
    try (Graph graph = new Graph()) {
      Ops tf = GraphOps.create(graph);
      ParamStore store = ParamStore.arguments(tf);
      Placeholder<TInt32> tokens = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(1, model.context())));
      ForwardGraph.build(model, store, LayerContext.eval(tf), ForwardGraph.Inputs.tokens(tokens));
      return ImmutableList.<ParamSpec>builder().addAll(store.specs())
          .addAll(store.buffers().stream().map(ParamStore.Param::spec).iterator()).build();
    }
  }
}
