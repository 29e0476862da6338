package io.switchhead.graph.train;

import java.util.Arrays;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.DataType;

/** The type and shape of a variable, in a graph or in a checkpoint. */
public record VariableType(DataType dtype, Shape shape) {

  /** "DT_FLOAT [4, 8]". */
  @Override
  public String toString() {
    return dtype + " " + Arrays.toString(shape.asArray());
  }
}
