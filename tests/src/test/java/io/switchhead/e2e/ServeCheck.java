package io.switchhead.e2e;

import io.switchhead.savedmodel.ServingSignatures;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * A server in a fresh JVM: loads a SavedModel with TensorFlow's loader, and answers requests by the
 * tensor names each SignatureDef gives, as TF Serving does. It uses TensorFlow's API only: nothing
 * of the model is built in this process.
 *
 * <p>Arguments: the SavedModel directory, a requests file and an answers file. Requests: a count,
 * then per request batch, time and batch*time token ids (big-endian ints). Answers: per request
 * and per signature ({@link #SIGNATURES}), a count and that many floats.
 */
public final class ServeCheck {

  /** The signatures asked, each with the output it is read for. */
  static final List<List<String>> SIGNATURES = List.of(
      List.of(ServingSignatures.DEFAULT, ServingSignatures.LOGITS),
      List.of(ServingSignatures.NEXT_TOKEN_LOGPROBS, ServingSignatures.LOGPROBS));

  private ServeCheck() {}

  public static void main(String[] args) throws IOException {
    try (SavedModelBundle bundle = SavedModelBundle.load(args[0], ServingSignatures.TAG);
        DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(Path.of(args[1]))));
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(Path.of(args[2]))))) {
      for (List<String> s : SIGNATURES) {
        SignatureDef def = bundle.metaGraphDef().getSignatureDefOrThrow(s.get(0));
        System.out.println(s.get(0) + " (" + def.getMethodName() + "): " + def.getInputsOrThrow(ServingSignatures.TOKENS).getName()
            + " -> " + def.getOutputsOrThrow(s.get(1)).getName());
      }
      int requests = in.readInt();
      for (int r = 0; r < requests; r++) {
        int batch = in.readInt();
        int time = in.readInt();
        int[] tokens = new int[batch * time];
        for (int i = 0; i < tokens.length; i++) {
          tokens[i] = in.readInt();
        }
        for (List<String> s : SIGNATURES) {
          float[] answer = run(bundle, s.get(0), s.get(1), tokens, batch, time);
          out.writeInt(answer.length);
          for (float f : answer) {
            out.writeFloat(f);
          }
        }
      }
      System.out.println("served " + requests + " requests");
    }
  }

  private static float[] run(SavedModelBundle bundle, String signature, String output, int[] tokens, int batch, int time) {
    SignatureDef def = bundle.metaGraphDef().getSignatureDefOrThrow(signature);
    try (TInt32 x = TInt32.tensorOf(Shape.of(batch, time), DataBuffers.of(tokens, true, false));
        Result r = bundle.session().runner().feed(def.getInputsOrThrow(ServingSignatures.TOKENS).getName(), x)
            .fetch(def.getOutputsOrThrow(output).getName()).run()) {
      TFloat32 y = (TFloat32) r.get(0);
      float[] values = new float[Math.toIntExact(y.shape().size())];
      y.asRawTensor().data().asFloats().read(values);
      return values;
    }
  }
}
