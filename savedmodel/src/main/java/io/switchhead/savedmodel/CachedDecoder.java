package io.switchhead.savedmodel;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.generate.TokenDecoder;
import io.switchhead.graph.model.DecodeGraph;
import io.switchhead.ops.Tensors;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import org.tensorflow.Result;
import org.tensorflow.SessionFunction;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * One sequence decoded through {@code decode_step}, and one token at a time through the compiled
 * {@code decode_token} where there is one: the cache a call returns is fed to the next one as it
 * is (the previous call's result stays open until then, so the cache is never copied), and a
 * prompt longer than the context goes in pieces of at most the context.
 */
final class CachedDecoder implements TokenDecoder {

  private final SessionFunction decodeStep;
  private final Optional<SessionFunction> decodeToken;
  private final ModelConfig config;
  private final TFloat32 emptyKeys;
  private final TFloat32 emptyValues;
  private Result last;
  private int position;

  CachedDecoder(SessionFunction decodeStep, Optional<SessionFunction> decodeToken, ModelConfig config) {
    this.decodeStep = decodeStep;
    this.decodeToken = decodeToken;
    this.config = config;
    this.emptyKeys = TFloat32.tensorOf(DecodeGraph.cacheShape(config, 1, 0));
    this.emptyValues = TFloat32.tensorOf(DecodeGraph.cacheShape(config, 1, 0));
  }

  @Override
  public int vocabSize() {
    return config.vocabSize();
  }

  @Override
  public float[] append(int[] tokens) {
    checkArgument(tokens.length >= 1, "append at least one token");
    float[] logits = null;
    for (int from = 0; from < tokens.length; from += config.context()) {
      int[] piece = Arrays.copyOfRange(tokens, from, Math.min(tokens.length, from + config.context()));
      logits = call(piece);
    }
    return logits;
  }

  /** One call of decode_step; returns the logits after the last token of {@code piece}. */
  private float[] call(int[] piece) {
    Tensor keys = last == null ? emptyKeys : output(last, ServingSignatures.CACHE_KEYS);
    Tensor values = last == null ? emptyValues : output(last, ServingSignatures.CACHE_VALUES);
    Result next;
    try (TInt32 tokens = Tensors.ints(Shape.of(1, piece.length), piece);
        TInt32 at = TInt32.scalarOf(position)) {
      SessionFunction f = piece.length == 1 ? decodeToken.orElse(decodeStep) : decodeStep;
      next = f.call(Map.of(ServingSignatures.TOKENS, tokens, ServingSignatures.POSITION, at,
          ServingSignatures.CACHE_KEYS, keys, ServingSignatures.CACHE_VALUES, values));
    }
    if (last != null) {
      last.close();
    }
    last = next;
    position += piece.length;
    float[] all = Tensors.toFloats(output(next, ServingSignatures.LOGITS)); // [1, n, V]
    return Arrays.copyOfRange(all, all.length - config.vocabSize(), all.length);
  }

  private static Tensor output(Result r, String name) {
    return r.get(name).orElseThrow(() -> new IllegalStateException("decode_step returned no " + name));
  }

  @Override
  public void reset() {
    if (last != null) {
      last.close();
      last = null;
    }
    position = 0;
  }

  @Override
  public void close() {
    reset();
    emptyKeys.close();
    emptyValues.close();
  }
}
