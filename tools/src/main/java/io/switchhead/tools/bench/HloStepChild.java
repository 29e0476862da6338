package io.switchhead.tools.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.google.common.base.Stopwatch;
import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.train.AdamW;
import io.switchhead.graph.train.CompiledStepSignature;
import io.switchhead.graph.train.StepKind;
import io.switchhead.graph.train.StepMetrics;
import io.switchhead.graph.train.StepSettings;
import io.switchhead.graph.train.TrainingGraph;
import io.switchhead.ops.Tensors;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.types.TFloat32;

/**
 * The child JVM of {@code bench hlo}: XLA reads {@code XLA_FLAGS} (where to dump its modules) once,
 * when the native library loads, so each model's compiled step is built and run in a fresh process
 * that {@link HloExport} starts with the dump flags set.
 *
 * <p>Arguments: CONFIG.json BATCH RESULT.json [VALUES_DIR]. It runs the compiled step (forward and
 * backward; the update is outside the module) once to compile it, then {@value #TIMED} times, and
 * writes an {@link HloStep} to RESULT.json; with VALUES_DIR, also the step's arguments as {@code
 * .npy} files named after them, so a second runtime can be checked against TensorFlow's loss.
 */
public final class HloStepChild {

  /** Steps timed after the compiling one. */
  static final int TIMED = 3;

  /** The step's seed pair is (SEED, step). */
  private static final long SEED = 1;

  private static final ObjectMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

  private HloStepChild() {}

  public static void main(String[] args) throws IOException {
    if (args.length != 3 && args.length != 4) {
      throw new IllegalArgumentException("usage: HloStepChild CONFIG.json BATCH RESULT.json [VALUES_DIR], got " + Arrays.toString(args));
    }
    ModelConfig model = ConfigJson.read(Path.of(args[0]));
    int batch = Integer.parseInt(args[1]);
    Optional<Path> values = args.length == 4 ? Optional.of(Path.of(args[3])) : Optional.empty();
    int context = model.context();
    int[] tokens = new SplittableRandom(7).ints((long) batch * (context + 1), 0, model.vocabSize()).toArray();
    try (TrainingGraph graph = new TrainingGraph(model, new StepSettings(batch, 1, AdamW.paper(0), 0.25), EnumSet.of(StepKind.XLA))) {
      Stopwatch compile = Stopwatch.createStarted();
      StepMetrics first = graph.step(tokens, 0, SEED, 1e-4, false);
      double compileMs = compile.elapsed(TimeUnit.MICROSECONDS) / 1000.0;
      double[] times = new double[TIMED];
      for (int i = 0; i < TIMED; i++) {
        Stopwatch watch = Stopwatch.createStarted();
        graph.step(tokens, 0, SEED, 1e-4, false);
        times[i] = watch.elapsed(TimeUnit.MICROSECONDS) / 1000.0;
      }
      Arrays.sort(times);
      CompiledStepSignature signature = graph.compiledStepSignature();
      if (values.isPresent()) {
        writeArguments(graph, signature, tokens, batch, context, values.get());
      }
      HloStep step = new HloStep(graph.store().size(), slots(signature.arguments()), slots(signature.outputs()), first.loss(), first.lmLoss(),
          compileMs, times[TIMED / 2]);
      JSON.writeValue(Path.of(args[2]).toFile(), step);
    }
  }

  private static List<HloStep.Slot> slots(List<CompiledStepSignature.Slot> slots) {
    List<HloStep.Slot> out = new ArrayList<>();
    for (int i = 0; i < slots.size(); i++) {
      out.add(HloStep.Slot.of(i, slots.get(i)));
    }
    return out;
  }

  /** The arguments step 0 was given: its token windows, its seed pair, the fresh parameters, zero memories. */
  private static void writeArguments(TrainingGraph graph, CompiledStepSignature signature, int[] tokens, int batch, int context, Path dir)
      throws IOException {
    Files.createDirectories(dir);
    int[] inputs = new int[batch * context];
    int[] targets = new int[batch * context];
    for (int b = 0; b < batch; b++) {
      System.arraycopy(tokens, b * (context + 1), inputs, b * context, context);
      System.arraycopy(tokens, b * (context + 1) + 1, targets, b * context, context);
    }
    Session.Runner runner = graph.session().runner();
    graph.store().params().forEach(p -> runner.fetch(p.value()));
    try (Result params = runner.run()) {
      int param = 0;
      for (CompiledStepSignature.Slot slot : signature.arguments()) {
        long[] shape = slot.shape().asArray();
        Path file = dir.resolve(slot.name() + ".npy");
        switch (slot.what()) {
          case "inputs" -> Npy.write(file, "<i4", shape, ints(inputs));
          case "targets" -> Npy.write(file, "<i4", shape, ints(targets));
          case "seed" -> Npy.write(file, "<i8", shape, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(SEED).putLong(0).flip());
          case "parameter" -> Npy.write(file, "<f4", shape, floats(Tensors.toFloats(params.get(param++))));
          // A fresh run's memories are zeros: step 0 reads nothing of a previous chunk.
          case "memory" -> Npy.write(file, "<f4", shape, floats(new float[Math.toIntExact(slot.shape().size())]));
          default -> throw new IllegalStateException("the compiled step takes an argument '" + slot.name() + "' (" + slot.what()
              + ") that the HLO export does not know how to fill");
        }
      }
    }
  }

  private static ByteBuffer ints(int[] values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asIntBuffer().put(values);
    return b;
  }

  private static ByteBuffer floats(float[] values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(values);
    return b;
  }
}
