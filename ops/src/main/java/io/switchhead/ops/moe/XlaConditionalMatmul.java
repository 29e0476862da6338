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
 *       one copy of the expert's weights per block. Faster while blocks are big.
 *   <li>{@link SpillConditionalMatmul}: a capacity region that uses the weights as they are, and
 *       blocks only for the pairs past it. Faster when many experts force small blocks, since
 *       the block layout's weight copies then grow with M.
 * </ul>
 *
 * <p>The choice is made when the graph is built, before any routing is seen, and the spill layout
 * is faster only for balanced routings: its capacity region holds C rows for every expert, filled
 * or not. At M = 64 with a skewed routing (expert e drawn with probability proportional to
 * 1/(e+1), the busiest at 14x the mean load) it took 55-61 ms against the block layout's 42.5 ms.
 * A model whose routing is known to be skewed can pass {@link
 * SortedConditionalMatmul#withDefaultBlockSize()} as its dispatch instead.
 */
public record XlaConditionalMatmul() implements ConditionalMatmul {

  private static final String WHERE = "XLA conditional matmul";

  /**
   * The spill layout where the block layout both loops (its worst case is past {@link
   * BlockLayout#SINGLE_GROUP_ROWS}) and has had to shrink its blocks below {@link
   * BlockLayout#MAX_DEFAULT_BLOCK}, the block layout otherwise. At N*k = 16K, dIn = 512, dOut =
   * 128 on 2 cores, uniform routing (docs/benchmarks/conditional-matmul.md): M = 64 (B = 128),
   * spill 33.6-37.6 ms against 40.6-46.0 ms in 70 runs; M = 32 (B = 256), block-padded 38.7 ms
   * against 41-46 ms; smaller M, block-padded by more. Small problems (one group: every training preset's matmuls) keep the block layout,
   * which runs without a loop op there, while the spill region always loops.
   */
  public static ConditionalMatmul layoutFor(MatmulShapes shapes) {
    BlockLayout block = BlockLayout.of(shapes, BlockLayout.defaultBlockSize(shapes));
    return block.groups() > 1 && block.blockSize() < BlockLayout.MAX_DEFAULT_BLOCK
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
