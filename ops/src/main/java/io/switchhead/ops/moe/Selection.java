package io.switchhead.ops.moe;

import org.tensorflow.Operand;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The experts chosen for each token, ready for a {@link ConditionalMatmul}.
 *
 * @param ids [N, H*k] expert ids h*E + e, head-major: slot h*k + j is head h's j-th choice
 * @param gates [N, H*k] the raw sigmoid scores of the chosen experts (no renormalisation)
 * @param logits [N, H, E] the selection logits x S^T, for regularisers
 */
public record Selection<T extends TFloating>(Operand<TInt32> ids, Operand<T> gates, Operand<T> logits) {}
