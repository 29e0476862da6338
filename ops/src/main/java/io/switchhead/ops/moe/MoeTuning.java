package io.switchhead.ops.moe;

/**
 * The tuning constants of the conditional matmul layouts, each with one name. They were chosen by
 * measurement on the CPU, mostly under XLA; the numbers, and how to take them again, are in
 * docs/benchmarks/conditional-matmul.md. They change speed only: every layout is exact at any value.
 */
public final class MoeTuning {

  private MoeTuning() {}

  /**
   * Block layout: worst cases up to this many padded rows are one group, run without a loop op. A
   * loop pays off only with enough groups to skip, and TensorFlow 2.18's XLA CPU runtime slows a
   * whole training step down when it holds loops.
   */
  static final int BLOCK_LAYOUT_SINGLE_GROUP_MAX_ROWS = 16384;

  /**
   * Capacity region: buffers of up to this many rows (M*C) run as one batched matmul, without a
   * loop op; past it, a loop over groups of experts keeps each group's gathered rows in cache.
   */
  static final int CAPACITY_REGION_SINGLE_GROUP_MAX_ROWS = 4096;

  /**
   * Rows per loop iteration that both looping layouts aim at: enough for a batched matmul at full
   * speed, few enough that its gathered inputs stay in cache and that little is computed past the
   * routing's last block. The block layout takes at most this many; the capacity region, the
   * divisor of M whose group is closest to it.
   */
  static final int LOOP_GROUP_ROWS = 2048;

  /**
   * Capacity region: its backward loops over the groups too only where each expert holds more than
   * this many rows (C); below, the backward in one piece was faster.
   */
  static final int CAPACITY_BACKWARD_LOOP_ABOVE_CAPACITY = 512;

  /**
   * Default block size B of the block layout: the largest power of two from this range whose
   * worst-case padding, M*B rows, is at most 1/{@link #DEFAULT_BLOCK_PADDING_DIVISOR} of the N*k
   * real rows. Larger blocks mean fewer per-block weight copies, which under XLA on the CPU cost
   * more than padding; the bound keeps the padding from dominating.
   */
  static final int DEFAULT_BLOCK_SIZE_MIN = 8;

  /** See {@link #DEFAULT_BLOCK_SIZE_MIN}. */
  static final int DEFAULT_BLOCK_SIZE_MAX = 256;

  /** See {@link #DEFAULT_BLOCK_SIZE_MIN}: 2, so padding may add at most half of the real rows. */
  static final int DEFAULT_BLOCK_PADDING_DIVISOR = 2;

  /**
   * Prefix counts: pairs per chunk, the inner size of the counting matmul. Its float32 counts are
   * exact (at most this many); larger chunks cost more flops, smaller ones a longer cumulative sum.
   */
  static final int PREFIX_COUNT_CHUNK = 128;

  /**
   * Spill layout: the capacity factor of its capacity region. A little above 1 leaves few of a
   * uniform routing's pairs to spill, so one spill-loop iteration usually holds them all.
   */
  static final double SPILL_CAPACITY_FACTOR = 1.05;

  /** Spill layout: B of its spill region, small because an expert's spill is small. */
  static final int SPILL_BLOCK_SIZE = 32;

  /** Spill layout: blocks per iteration of its spill loop (512 rows with {@link #SPILL_BLOCK_SIZE}). */
  static final int SPILL_GROUP_BLOCKS = 16;

  /**
   * Decoding: the gathered matmul takes a call while the expert weights it gathers (N * k * dIn *
   * dOut float32 values) stay within this; larger calls (long prompts, large batches) take the
   * segmented matmul. 16 MiB is 32 tokens of switchhead-47m's value projection, a whole context of
   * switchhead-tiny's.
   */
  public static final long GATHERED_WEIGHTS_MAX_BYTES = 16L << 20;

  /**
   * PEER: a chunk of tokens gathers at most this many bytes of expert rows per table ([tokens, h*k,
   * D]) and retrieves its product keys, computes and sums before the next chunk starts, so the
   * stage's temporaries stop growing with batch times context (docs/design/peer.md). 8 MiB is 512
   * tokens of peer-1m-tiny (h 4, k 8, D 128, float32): 4 chunks of its 2048-token batches.
   */
  public static final long PEER_GATHERED_ROWS_MAX_BYTES = 8L << 20;
}
