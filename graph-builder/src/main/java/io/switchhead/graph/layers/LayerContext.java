package io.switchhead.graph.layers;

import com.google.common.hash.Hashing;
import io.switchhead.ops.Mode;
import io.switchhead.ops.moe.ConditionalMatmul;
import io.switchhead.ops.moe.FewRowsSwitch;
import io.switchhead.ops.moe.SegmentedConditionalMatmul;
import io.switchhead.ops.moe.XlaConditionalMatmul;
import java.nio.charset.StandardCharsets;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt64;

/**
 * What every layer call needs besides its parameters and inputs: the ops, train or eval, and the
 * step's random seed from which each random site (a dropout, an expert dropout) derives its own.
 *
 * @param stepSeed int64 [2], fed per step (or a constant); null in EVAL graphs
 */
public record LayerContext(Ops tf, Mode mode, Operand<TInt64> stepSeed, ConditionalMatmul dispatch) {

  public LayerContext {
    if (mode.training() && stepSeed == null) {
      throw new IllegalArgumentException("a TRAIN graph needs a step seed for its random sites");
    }
  }

  /**
   * A training context for the plain graph: experts computed on segments of exactly their size
   * ({@link SegmentedConditionalMatmul}, the fastest there, shapes decided by the data).
   */
  public static LayerContext train(Ops tf, Operand<TInt64> stepSeed) {
    return new LayerContext(tf, Mode.TRAIN, stepSeed, new SegmentedConditionalMatmul());
  }

  /** An evaluation context for the plain graph: no randomness, segmented dispatch. */
  public static LayerContext eval(Ops tf) {
    return new LayerContext(tf, Mode.EVAL, null, new SegmentedConditionalMatmul());
  }

  /**
   * A context for cached decoding (inference): each conditional matmul picks, when the graph runs,
   * the gathered matmul for the few tokens of a decoding step (a handful of ops, where the segmented
   * one runs about fifty) and the segmented one for a long prompt or a large batch ({@link FewRowsSwitch}).
   */
  public static LayerContext decode(Ops tf) {
    return new LayerContext(tf, Mode.EVAL, null, FewRowsSwitch.forDecoding());
  }

  /**
   * The same context with every shape static, as XLA needs: {@link XlaConditionalMatmul} computes
   * experts on block-padded segments, or, where their worst case would need a loop (past the block
   * layout's single-group row limit), on a capacity region plus blocks for the pairs past it (the spill layout, faster for balanced routings only). Made for XLA, which updates the loop's buffers in place; the
   * plain graph copies them every iteration, so there the default segmented dispatch is faster.
   */
  public LayerContext withStaticShapes() {
    return withDispatch(new XlaConditionalMatmul());
  }

  /** The same context with another expert dispatch (e.g. the dense reference in tests). */
  public LayerContext withDispatch(ConditionalMatmul other) {
    return new LayerContext(tf, mode, stepSeed, other);
  }

  public boolean training() {
    return mode.training();
  }

  /** The seed of the random site named {@code site} (e.g. a parameter-scope path plus "dropout"). */
  public Operand<TInt64> seedFor(String site) {
    long offset = Hashing.murmur3_128().hashString(site, StandardCharsets.UTF_8).asLong();
    return tf.math.add(stepSeed, tf.constant(new long[] {offset, 0}));
  }

  /** The same context with ops in another name scope. */
  public LayerContext withOps(Ops scoped) {
    return new LayerContext(scoped, mode, stepSeed, dispatch);
  }
}
