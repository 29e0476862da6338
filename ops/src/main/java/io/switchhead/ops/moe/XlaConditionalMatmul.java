package io.switchhead.ops.moe;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The conditional matmul of XLA-compiled steps: of the two dropless layouts with static shapes,
 * the one measured faster under XLA for the shapes at hand ({@link #layoutFor}).
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
 * expert, filled or not, and what spills runs in small blocks. At N*k = 16K on 2 cores, with
 * expert e drawn with probability proportional to 1/(e+1) (the busiest expert at 5x the mean
 * load at M = 16), it took 68 ms against the block layout's 42 ms; even at 1.4x (M = 4, exponent
 * 0.5), 44 against 41 ms (docs/benchmarks/conditional-matmul.md). A model whose routing is known
 * to be skewed should pass {@link SortedConditionalMatmul#withDefaultBlockSize()} as its dispatch.
 */
public record XlaConditionalMatmul() implements ConditionalMatmul {

  private static final String WHERE = "XLA conditional matmul";

  /**
   * The spill layout where the block layout would loop (its worst case is past {@link
   * MoeTuning#BLOCK_LAYOUT_SINGLE_GROUP_MAX_ROWS} rows), the block layout otherwise. At N*k = 16K, dIn = 512,
   * dOut = 128, uniform routing, XLA on 2 cores, the spill step was faster at every M in every
   * run: 27.2-27.6 against 29.8-30.4 ms at M = 4, 32.8-33.5 against 35.1-38.0 ms at M = 32,
   * 34.2-35.3 against 41.7-44.9 ms at M = 64 in the machine's fast state, and 34-44 against
   * 41-64 ms in its slow one. Small problems (every training preset's matmuls at their batch
   * sizes) keep the block layout, which runs without a loop op there, while the spill layout
   * always loops.
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
