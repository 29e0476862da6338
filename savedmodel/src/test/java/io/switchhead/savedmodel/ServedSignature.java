package io.switchhead.savedmodel;

import io.switchhead.ops.Tensors;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.types.TInt32;

/** A loaded SavedModel run as TF Serving runs it: by the tensor names its SignatureDef gives, nothing else of the model. */
final class ServedSignature {

  private ServedSignature() {}

  /**
   * Feeds {@code tokens} [batch, time] to the signature's {@link ServingSignatures#TOKENS} input.
   *
   * @return the output named {@code output}, row-major
   */
  static float[] run(SavedModelBundle bundle, String signature, String output, int[] tokens, int batch, int time) {
    SignatureDef def = bundle.metaGraphDef().getSignatureDefOrThrow(signature);
    try (TInt32 x = Tensors.ints(Shape.of(batch, time), tokens);
        Result r = bundle.session().runner().feed(def.getInputsOrThrow(ServingSignatures.TOKENS).getName(), x)
            .fetch(def.getOutputsOrThrow(output).getName()).run()) {
      return Tensors.toFloats(r.get(0));
    }
  }
}
