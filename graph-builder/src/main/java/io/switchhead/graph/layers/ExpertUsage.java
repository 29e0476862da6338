package io.switchhead.graph.layers;

import org.tensorflow.Operand;
import org.tensorflow.types.family.TFloating;

/**
 * The entropy of mean expert usage of one selection, for logs.
 *
 * @param name the selection's parameter path, e.g. {@code layers/3/attention/sel_v}
 * @param entropy scalar, in nats; log(E) when every expert is used equally
 */
public record ExpertUsage(String name, Operand<? extends TFloating> entropy) {}
