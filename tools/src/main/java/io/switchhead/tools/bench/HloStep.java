package io.switchhead.tools.bench;

import io.switchhead.graph.train.CompiledStepSignature;
import java.util.Arrays;
import java.util.List;
import org.tensorflow.proto.DataType;

/**
 * What {@link HloStepChild} reports of one model's compiled training step to {@link HloExport}, as
 * JSON: the arguments and outputs in the XLA module's order and what TensorFlow computed for it.
 *
 * @param parameters the model's parameter count (scalars)
 * @param loss the step's total loss on the reference arguments, as TensorFlow Java computed it
 * @param lmLoss its language-model cross-entropy (nats per token)
 * @param compileMs the first step, which compiles the module, in TensorFlow Java
 * @param stepMs the median of the later steps: forward and backward, the module's work, no update
 */
record HloStep(long parameters, List<Slot> arguments, List<Slot> outputs, double loss, double lmLoss, double compileMs, double stepMs) {

  /**
   * One argument or output of the module.
   *
   * @param index its parameter number (or position in the result tuple)
   * @param dtype NumPy's name: float32, int32, int64
   */
  record Slot(int index, String name, String what, String path, List<Long> shape, String dtype) {

    static Slot of(int index, CompiledStepSignature.Slot s) {
      return new Slot(index, s.name(), s.what(), s.path(), Arrays.stream(s.shape().asArray()).boxed().toList(), numpy(s.dataType()));
    }

    private static String numpy(DataType type) {
      return switch (type) {
        case DT_FLOAT -> "float32";
        case DT_INT32 -> "int32";
        case DT_INT64 -> "int64";
        default -> throw new IllegalArgumentException("the compiled step has a " + type + " argument or output; the HLO manifest knows float32, int32 and int64");
      };
    }
  }
}
