package io.switchhead.ops.moe;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The conditional matmul of steps built with static shapes (XLA-compiled ones, or plain-graph ones
 * that ask for them): one of the two dropless layouts with static shapes, picked by shape ({@link
 * #layoutFor}). The plain graph's default is {@link SegmentedConditionalMatmul}, whose segment
 * sizes are data.
 *
 * <ul>
 *   <li>{@link SortedConditionalMatmul}, block-padded: every expert's pairs in blocks of B rows,
 *       one copy of the expert's weights per block. Small problems run it without a loop op.
 *   <li>{@link SpillConditionalMatmul}: a capacity region that uses the weights as they are, and
 *       blocks only for the pairs past it.
 * </ul>
 *
 * <p>The choice is made when the graph is built, before any routing is seen, and the spill layout
 * is the faster one only for balanced routings: its capacity region holds C rows for every
 * expert, filled or not, and what spills runs in small blocks, so for skewed routings, even
 * mildly skewed ones, the block layout is faster (docs/benchmarks/conditional-matmul.md). A model
 * whose routing is known to be skewed should pass {@link
 * SortedConditionalMatmul#withDefaultBlockSize()} as its dispatch.
 */
public record XlaConditionalMatmul() implements ConditionalMatmul {

  private static final String WHERE = "XLA conditional matmul";

  /**
   * The spill layout where the block layout would loop (its worst case is past the block layout's
   * single-group limit, {@link MoeTuning#BLOCK_LAYOUT_SINGLE_GROUP_MAX_ROWS} rows), the block
   * layout otherwise. With a uniform routing the spill step was the faster there at every M
   * measured (docs/benchmarks/conditional-matmul.md). Small problems (every training preset's
   * matmuls at their batch sizes) keep the block layout, which runs without a loop op there, while
   * the spill layout always loops.
   */
  public static ConditionalMatmul layoutFor(MatmulShapes shapes) {
    return BlockLayout.of(shapes, BlockLayout.defaultBlockSize(shapes)).groups() > 1
        ? SpillConditionalMatmul.withDefaults()
        : SortedConditionalMatmul.withDefaultBlockSize();
  }

  @Override
  public <T extends TFloating> Operand<T> slotOutputs(Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates) {
    return layoutFor(MatmulShapes.of(WHERE, x, w, ids, gates)).slotOutputs(tf, x, w, ids, gates);
  }

  @Override
  public <T extends TFloating> Operand<T> apply(Ops tf, Operand<T> x, Operand<T> w, Operand<TInt32> ids, Operand<T> gates) {
    return layoutFor(MatmulShapes.of(WHERE, x, w, ids, gates)).apply(tf, x, w, ids, gates);
  }
}
