package io.switchhead.savedmodel;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.generate.TokenDecoder;
import io.switchhead.ops.Tensors;
import java.util.Arrays;
import java.util.Map;
import org.tensorflow.Result;
import org.tensorflow.SessionFunction;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TInt32;

/**
 * One sequence decoded without a cache: each call runs {@code next_token_logprobs} over the last
 * T tokens, the whole window recomputed per token. What generation did before {@code decode_step};
 * kept to compare against. Past the context the window restarts at the oldest kept token.
 */
final class FullWindowDecoder implements TokenDecoder {

  private final SessionFunction nextTokenLogprobs;
  private final ModelConfig config;
  private int[] text = new int[0]; // the last T tokens at most

  FullWindowDecoder(SessionFunction nextTokenLogprobs, ModelConfig config) {
    this.nextTokenLogprobs = nextTokenLogprobs;
    this.config = config;
  }

  @Override
  public int vocabSize() {
    return config.vocabSize();
  }

  @Override
  public float[] append(int[] tokens) {
    checkArgument(tokens.length >= 1, "append at least one token");
    int[] grown = Arrays.copyOf(text, text.length + tokens.length);
    System.arraycopy(tokens, 0, grown, text.length, tokens.length);
    text = Arrays.copyOfRange(grown, Math.max(0, grown.length - config.context()), grown.length); // the window
    try (TInt32 x = Tensors.ints(Shape.of(1, text.length), text);
        Result r = nextTokenLogprobs.call(Map.of(ServingSignatures.TOKENS, x))) {
      return Tensors.toFloats(r.get(ServingSignatures.LOGPROBS).orElseThrow());
    }
  }

  @Override
  public void reset() {
    text = new int[0];
  }

  @Override
  public void close() {
    reset();
  }
}
