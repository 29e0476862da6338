package io.switchhead.savedmodel;

/**
 * The names a server uses: the SavedModel's tag, its signature keys and their inputs and outputs.
 * One place, so the export, its checks and the README agree.
 */
public final class ServingSignatures {

  private ServingSignatures() {}

  /** The tag TF Serving loads by default. */
  public static final String TAG = "serve";

  /** The method name of every signature: TF Serving's Predict API. */
  public static final String PREDICT = "tensorflow/serving/predict";

  /** Logits of every position: input {@link #TOKENS}, output {@link #LOGITS}. */
  public static final String DEFAULT = "serving_default";

  /** Log-probabilities of the next token after the last position: input {@link #TOKENS}, output {@link #LOGPROBS}. */
  public static final String NEXT_TOKEN_LOGPROBS = "next_token_logprobs";

  /**
   * Incremental decoding with the cache passed in and out: inputs {@link #TOKENS} [batch, new],
   * {@link #POSITION}, {@link #CACHE_KEYS}, {@link #CACHE_VALUES}; outputs {@link #LOGITS} [batch,
   * new, vocab] and the next call's position and cache under the same names.
   */
  public static final String DECODE_STEP = "decode_step";

  /**
   * {@link #DECODE_STEP} from an empty cache at position 0: input {@link #TOKENS} only, the same
   * outputs. For clients that cannot send an empty cache (TF Serving's REST API).
   */
  public static final String DECODE_START = "decode_start";

  /**
   * {@link #DECODE_STEP} for one new token per sequence, compiled by XLA into one cluster: the same
   * inputs and outputs ({@link #TOKENS} [batch, 1]), for small batches. Exported with {@code --xla}
   * (the server must run XLA on the CPU: TF Serving's {@code --xla_cpu_compilation_enabled});
   * in-process generation uses it whenever it has it.
   */
  public static final String DECODE_TOKEN = "decode_token";

  /** int32 scalar: the number of tokens before the new ones (0 starts a sequence). */
  public static final String POSITION = "position";

  /** float32 [layers, batch, heads, cached, head width]: every layer's keys of the tokens so far (the newest, at most window - 1). */
  public static final String CACHE_KEYS = "cache_keys";

  /** float32, the shape of {@link #CACHE_KEYS}: every layer's values (after SwitchHead's expert mixture). */
  public static final String CACHE_VALUES = "cache_values";

  /** int32 [batch, time], both dynamic, time in [1, context], ids in [0, vocab). */
  public static final String TOKENS = "tokens";

  /** float32 [batch, time, vocab]. */
  public static final String LOGITS = "logits";

  /** float32 [batch, vocab], log-softmax of the last position's logits. */
  public static final String LOGPROBS = "logprobs";
}
