package io.switchhead.graph.config;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

/**
 * A pre-LN Transformer language model: embedding, {@code layers} blocks of
 * {@code x + attention(LN(x))} and {@code x + feedForward(LN(x))}, a final LayerNorm and an untied
 * output layer. Read or written as JSON by {@link ConfigJson}; every field is required there.
 *
 * @param vocabSize tokens (256 for bytes, 8000 for the paper's SentencePiece models)
 * @param dModel residual width D
 * @param layers number of blocks L
 * @param context tokens per training window T (with XL, attention also sees the previous T as memory)
 * @param attention the attention of every block
 * @param feedForward the feed-forward of every block, or of each ({@link PerBlockFeedForwardConfig})
 * @param dropout on embeddings, attention output, feed-forward hidden and output (0.1 at 47M)
 * @param initScale s in the init std s/sqrt(fan-in); the paper used sqrt(2 / layers)
 */
public record ModelConfig(
    int vocabSize,
    int dModel,
    int layers,
    int context,
    AttentionConfig attention,
    FeedForwardConfig feedForward,
    double dropout,
    double initScale) {

  public ModelConfig {
    checkArgument(vocabSize >= 2, "vocabSize (%s) must be >= 2", vocabSize);
    checkArgument(dModel >= 2 && dModel % 2 == 0, "dModel (%s) must be even and >= 2 (sinusoids pair channels)", dModel);
    checkArgument(layers >= 1, "layers (%s) must be >= 1", layers);
    checkArgument(context >= 1, "context (%s) must be >= 1", context);
    checkNotNull(attention, "attention is missing");
    checkNotNull(feedForward, "feedForward is missing");
    if (feedForward instanceof PerBlockFeedForwardConfig perBlock) {
      checkArgument(perBlock.first() < layers, "feedForward.first (%s) must name one of the %s blocks (0 to %s)", perBlock.first(), layers,
          layers - 1);
    }
    for (int i = 0; i < layers; i++) {
      if (feedForward.forBlock(i) instanceof MhMoeConfig mh) {
        mh.checkWidth(dModel);
      }
    }
    checkArgument(dropout >= 0 && dropout < 1, "dropout (%s) must be in [0, 1)", dropout);
    checkArgument(initScale > 0 && Double.isFinite(initScale), "initScale (%s) must be positive", initScale);
  }

  /** True if attention carries a Transformer-XL memory (each layer's input of the previous chunk). */
  public boolean hasMemory() {
    return attention.positional() == Positional.XL;
  }

  /** The same model with another context length T. */
  public ModelConfig withContext(int newContext) {
    return new ModelConfig(vocabSize, dModel, layers, newContext, attention, feedForward, dropout, initScale);
  }

  /** What every layer shares with the model: residual width, init scale and dropout. */
  public ModelDims dims() {
    return new ModelDims(dModel, initScale, dropout);
  }

  /** The paper's init scale for a model of this depth. */
  public static double paperInitScale(int layers) {
    return Math.sqrt(2.0 / layers);
  }
}
