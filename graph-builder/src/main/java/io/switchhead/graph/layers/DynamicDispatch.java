package io.switchhead.graph.layers;

import io.switchhead.ops.moe.ActiveSlotsMatmul;
import io.switchhead.ops.moe.ConditionalMatmul;
import io.switchhead.ops.moe.SegmentedConditionalMatmul;
import org.tensorflow.Operand;
import org.tensorflow.types.TBool;

/**
 * The expert dispatch of a dynamic-k selection (our design): in the plain graph, whose segmented
 * dispatch takes data-dependent sizes, only the used slots are computed ({@link ActiveSlotsMatmul});
 * elsewhere (XLA's static shapes, decoding's run-time switch, test references) the unused slots are
 * computed and weighted by their gate 0, with the same result.
 */
final class DynamicDispatch {

  private DynamicDispatch() {}

  /** @param active [rows, k] as the dispatch's ids will be laid out, true where a slot is used */
  static ConditionalMatmul of(LayerContext ctx, Operand<TBool> active) {
    return ctx.dispatch() instanceof SegmentedConditionalMatmul ? new ActiveSlotsMatmul(ctx.dispatch(), active) : ctx.dispatch();
  }
}
