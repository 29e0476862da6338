package io.switchhead.graph.layers;

import org.tensorflow.Operand;
import org.tensorflow.types.family.TFloating;

/**
 * A cached decoding call of an attention layer or a block: its output for the new tokens and the keys and values
 * of the cache and the new tokens together.
 *
 * @param output [B, n, D]
 * @param keysValues [B, H, L + n, dh] each
 */
public record Decoded<T extends TFloating>(Operand<T> output, KeyValues<T> keysValues) {}
