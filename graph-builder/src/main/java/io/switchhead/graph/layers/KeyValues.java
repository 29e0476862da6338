package io.switchhead.graph.layers;

import org.tensorflow.Operand;
import org.tensorflow.types.family.TFloating;

/**
 * An attention layer's keys and values per head, as a decoding cache keeps them between calls: keys
 * as attention uses them (scaled, and for RoPE rotated at their absolute positions), values after
 * SwitchHead's expert mixture. Neither depends on the query that reads it, so a cached row is reused
 * by every later token as it is, for XL models too (their positions enter through the queries'
 * relative-position scores).
 *
 * @param keys [B, H, L, dh]
 * @param values [B, H, L, dh]
 */
public record KeyValues<T extends TFloating>(Operand<T> keys, Operand<T> values) {}
