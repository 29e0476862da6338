package io.switchhead.graph.train;

import com.google.common.collect.ImmutableList;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.DataType;

/**
 * What the compiled training step ({@link StepKind#XLA}) takes and returns, in its signature's
 * order, which is also the order of the XLA module's parameters and of its result tuple: tools that
 * run the dumped HLO elsewhere (a JAX script, a GPU machine) feed arguments by this list.
 *
 * @param arguments {@code inputs}, {@code targets} (token ids [B, T]), {@code seed} (the step's
 *     int64 pair), one {@code parameter} per parameter in the store's order, then (XL) one {@code
 *     memory} per layer
 * @param outputs {@code loss}, {@code lm_loss}, one {@code gradient} per parameter, then the rows,
 *     usage entropies, dropped shares, buffer targets, mean Ks and next memories the step reports
 */
public record CompiledStepSignature(ImmutableList<Slot> arguments, ImmutableList<Slot> outputs) {

  /**
   * One argument or output.
   *
   * @param name its name in the step's signature ({@code param_3}, {@code grad_3})
   * @param what what it holds: {@code inputs}, {@code targets}, {@code seed}, {@code parameter},
   *     {@code memory}, {@code loss}, {@code lm_loss}, {@code gradient}, {@code rows}, {@code usage},
   *     {@code dropped}, {@code buffer_target}, {@code mean_k}, {@code next_memory}
   * @param path the parameter's path for a {@code parameter}, its {@code gradient} and {@code rows},
   *     else empty
   */
  public record Slot(String name, String what, String path, Shape shape, DataType dataType) {}
}
