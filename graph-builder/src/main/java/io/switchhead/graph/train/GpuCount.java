package io.switchhead.graph.train;

import io.switchhead.ops.GraphOps;
import org.tensorflow.DeviceSpec;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.exceptions.TFInvalidArgumentException;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.types.TInt32;

/**
 * How many GPUs TensorFlow sees. TensorFlow Java 1.1.0 has no public call that lists a session's
 * devices, so this places a constant on each GPU in turn, without soft placement: the first that
 * cannot be placed ends the count (a CPU build sees none).
 */
final class GpuCount {

  private GpuCount() {}

  /** The GPUs, counted up to {@code limit}. */
  static int upTo(int limit) {
    for (int i = 0; i < limit; i++) {
      if (!placeable(i)) {
        return i;
      }
    }
    return limit;
  }

  private static boolean placeable(int index) {
    try (Graph graph = new Graph()) {
      Ops tf = GraphOps.create(graph).withDevice(DeviceSpec.newBuilder().deviceType(DeviceSpec.DeviceType.GPU).deviceIndex(index).build());
      Operand<TInt32> probe = tf.constant(index);
      try (Session session = new Session(graph, ConfigProto.newBuilder().setAllowSoftPlacement(false).build());
          Result r = session.runner().fetch(probe).run()) {
        return true;
      } catch (TFInvalidArgumentException | TensorFlowException e) { // a device that cannot be assigned
        return false;
      }
    }
  }
}
