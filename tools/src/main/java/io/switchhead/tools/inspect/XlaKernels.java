package io.switchhead.tools.inspect;

import static com.google.common.base.Preconditions.checkState;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeleteBuffer;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeleteStatus;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_GetCode;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_GetRegisteredKernelsForOp;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_Message;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_NewStatus;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_OK;

import com.google.protobuf.InvalidProtocolBufferException;
import io.switchhead.tools.XlaProbe;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.javacpp.BytePointer;
import org.tensorflow.TensorFlow;
import org.tensorflow.internal.c_api.TF_Buffer;
import org.tensorflow.internal.c_api.TF_Status;
import org.tensorflow.proto.KernelDef;
import org.tensorflow.proto.KernelList;

/**
 * Whether XLA can compile an op type, asked of TensorFlow's kernel registry: XLA registers a kernel
 * of device type {@code XLA_CPU_JIT} for every op its CPU compiler lowers. Those kernels are
 * registered lazily, on the first XLA compilation in the process, so the registry is asked only
 * after one tiny function was compiled ({@link XlaProbe}). The registry is the compiler's own list
 * (no list kept here goes stale), and asking it costs milliseconds, where compiling a training step
 * to find the first op that fails costs minutes and names one op only.
 *
 * <p>The answer is per op type: a kernel's dtype constraints (e.g. an op XLA lowers for float but
 * not for string) are not checked.
 */
final class XlaKernels {

  static final String DEVICE = "XLA_CPU_JIT";

  private final Map<String, Boolean> known = new HashMap<>();

  /** What the probe compilation said ("work (...)" or "FAILED: ..."). */
  final String probe;

  XlaKernels() {
    TensorFlow.version();
    probe = XlaProbe.run();
  }

  boolean compiles(String opType) {
    return known.computeIfAbsent(opType, XlaKernels::registered);
  }

  private static boolean registered(String opType) {
    TF_Status status = TF_NewStatus();
    TF_Buffer buffer = TF_GetRegisteredKernelsForOp(opType, status);
    try {
      checkState(TF_GetCode(status) == TF_OK, "the kernel registry refused op type %s: %s", opType, TF_Message(status).getString());
      byte[] bytes = new byte[(int) buffer.length()];
      new BytePointer(buffer.data()).capacity(buffer.length()).get(bytes);
      for (KernelDef k : KernelList.parseFrom(bytes).getKernelList()) {
        if (k.getDeviceType().equals(DEVICE)) {
          return true;
        }
      }
      return false;
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("the kernel registry's answer for " + opType + " is not a KernelList", e);
    } finally {
      TF_DeleteBuffer(buffer);
      TF_DeleteStatus(status);
    }
  }
}
