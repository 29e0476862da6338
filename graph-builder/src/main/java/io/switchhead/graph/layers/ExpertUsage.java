package io.switchhead.graph.layers;

import io.switchhead.ops.moe.SelectionConfig;
import java.util.Optional;
import org.tensorflow.Operand;
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
 */
public record ExpertUsage(String name, Operand<? extends TFloating> entropy, Operand<TInt32> ids, SelectionConfig selection,
    Optional<Operand<? extends TFloating>> droppedShare) {

  /** A dropless selection. */
  public ExpertUsage(String name, Operand<? extends TFloating> entropy, Operand<TInt32> ids, SelectionConfig selection) {
    this(name, entropy, ids, selection, Optional.empty());
  }
}
