package io.switchhead.tools.inspect;

/**
 * One row of the cost table: a part of the model (a layer, the embedding, the output, the total),
 * each number by the paper's formula beside the exact count of the built graph. Attention costs are
 * for one sequence of the model's context; parts without attention have zero there.
 *
 * @param paperParameters by formula ({@code ParameterCount})
 * @param builtParameters the scalars of the parameters the built graph creates under this part
 * @param paperMacs the paper's attention MAC formula
 * @param graphMacs every matmul the built attention runs (XL memory recomputed, expert-block padding included)
 * @param paperMemoryFloats the paper's activation-memory formula
 * @param graphActivationFloats the floats of every intermediate tensor the built attention computes
 */
public record CostRow(String part, long paperParameters, long builtParameters, double paperMacs, long graphMacs,
    double paperMemoryFloats, long graphActivationFloats) {

  /** The sum of two rows, under a new name. */
  CostRow plus(String name, CostRow o) {
    return new CostRow(name, paperParameters + o.paperParameters, builtParameters + o.builtParameters, paperMacs + o.paperMacs,
        graphMacs + o.graphMacs, paperMemoryFloats + o.paperMemoryFloats, graphActivationFloats + o.graphActivationFloats);
  }
}
