package io.switchhead.graph.layers;

import static com.google.common.base.Preconditions.checkState;

import io.switchhead.ops.moe.DynamicK;
import io.switchhead.ops.moe.SelectionConfig;
import java.util.Optional;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * One expert selection of the model, as logs and the routing inspection see it: the entropy of its
 * mean expert usage and the experts it chose. The ids are the ones the layer's conditional matmul
 * uses, so fetching them computes nothing the layer does not.
 *
 * @param name the selection's parameter path, e.g. {@code layers/3/attention/sel_v}
 * @param entropy scalar, in nats; log(E) when every expert is used equally
 * @param ids [N, H*k] the chosen expert ids, head-major and offset by head: id = h*E + e
 * @param selection H, E and k of the ids
 * @param droppedShare scalar, the share of the N*H*k choices that no expert had room for, where a
 *     capacity applies (MH-MoE in training); empty for dropless selections
 * @param kPerToken [N], how many of its k slots per head each token used, for a dynamic-k selection
 *     (our design: the ids hold all k = K_max slots, slot h*k + j used when j < K, the others with
 *     gate 0); null for a fixed-k selection, whose tokens use all k
 */
public record ExpertUsage(String name, Operand<? extends TFloating> entropy, Operand<TInt32> ids, SelectionConfig selection,
    Optional<Operand<? extends TFloating>> droppedShare, Operand<TInt32> kPerToken) {

  /** A dropless fixed-k selection. */
  public ExpertUsage(String name, Operand<? extends TFloating> entropy, Operand<TInt32> ids, SelectionConfig selection) {
    this(name, entropy, ids, selection, Optional.empty(), null);
  }

  /** A fixed-k selection with a capacity. */
  public ExpertUsage(String name, Operand<? extends TFloating> entropy, Operand<TInt32> ids, SelectionConfig selection,
      Optional<Operand<? extends TFloating>> droppedShare) {
    this(name, entropy, ids, selection, droppedShare, null);
  }

  /** A dropless dynamic-k selection. */
  public ExpertUsage(String name, Operand<? extends TFloating> entropy, Operand<TInt32> ids, SelectionConfig selection,
      Operand<TInt32> kPerToken) {
    this(name, entropy, ids, selection, Optional.empty(), kPerToken);
  }

  /** Whether the selection's K varies by token. */
  public boolean dynamic() {
    return kPerToken != null;
  }

  /** The mean of K over the tokens, float32 scalar; only for a dynamic selection. */
  public Operand<TFloat32> meanK(Ops tf) {
    checkState(dynamic(), "%s has a fixed k (%s): no mean K to compute", name, selection.k());
    return DynamicK.meanK(tf, kPerToken);
  }
}
