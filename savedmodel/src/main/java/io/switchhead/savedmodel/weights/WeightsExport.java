package io.switchhead.savedmodel.weights;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableMap;
import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.model.ForwardGraph;
import io.switchhead.graph.params.ParamSpec;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.graph.train.SavedVariables;
import io.switchhead.graph.train.VerifiedCheckpoint;
import io.switchhead.ops.GraphOps;
import io.switchhead.savedmodel.SavedModelExport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.function.Consumer;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Writes a checkpoint's parameters (no optimizer slots, no XL memories) as a safetensors file, named
 * and laid out by {@link WeightNames}, every tensor F32. Its {@code __metadata__} records the model
 * config as JSON ({@link #MODEL}), so that {@link WeightsImport} needs no other description of it,
 * and the source checkpoint and step.
 */
public final class WeightsExport {

  /** What an export wrote. */
  public record Exported(Path file, String checkpoint, long step, int tensors, long bytes) {}

  /** The metadata keys: the model config (JSON), the source checkpoint's directory, its step. */
  public static final String MODEL = "model";
  public static final String CHECKPOINT = "checkpoint";
  public static final String STEP = "step";

  private WeightsExport() {}

  /**
   * Exports a run's checkpoint: that of {@code step}, or the newest intact one. Either is verified
   * before anything is written (see {@link SavedModelExport#checkpoint}).
   *
   * @param overwrite replace an existing {@code out}; without it an existing one is refused
   * @param warnings receives a line per damaged checkpoint skipped on the way to the newest intact one
   */
  public static Exported export(Path runDirectory, OptionalLong step, Path out, boolean overwrite, Consumer<String> warnings) {
    checkArgument(overwrite || !Files.exists(out), "%s exists; pass --overwrite to replace it", out);
    return export(SavedModelExport.checkpoint(runDirectory, step, warnings), out, overwrite);
  }

  /** Exports a verified checkpoint to {@code out}, written beside it and renamed into place. */
  public static Exported export(VerifiedCheckpoint checkpoint, Path out, boolean overwrite) {
    ModelConfig model = checkpoint.state().model();
    ImmutableMap.Builder<String, SafeTensorsFile.Tensor> tensors = ImmutableMap.builder();
    long bytes = 0;
    try (Graph graph = new Graph()) {
      Ops tf = GraphOps.create(graph);
      ParamStore store = ParamStore.variables(tf, 0);
      Placeholder<TInt32> tokens = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(1, model.context())));
      ForwardGraph.build(model, store, LayerContext.eval(tf), ForwardGraph.Inputs.tokens(tokens));
      store.freeze();
      Map<String, ParamStore.Param> params = new LinkedHashMap<>();
      store.params().forEach(p -> params.put(p.spec().path(), p));
      store.buffers().forEach(b -> params.put(b.spec().path(), b)); // BatchNorm statistics, with the parameters
      List<ParamSpec> specs = params.values().stream().map(ParamStore.Param::spec).toList();
      try (Session session = new Session(graph)) {
        // The parameters by name; the checkpoint's Adam slots and XL memories are not in this graph.
        checkpoint.restoreParameters(session, SavedVariables.of(graph));
        for (WeightName w : WeightNames.of(model, specs)) {
          try (Result r = session.runner().fetch(params.get(w.path()).value()).run()) {
            byte[] data = w.layout().toFile(Float32Bytes.of((TFloat32) r.get(0)), w.shape(), Float.BYTES);
            tensors.put(w.name(), new SafeTensorsFile.Tensor(Dtype.F32, w.fileShape(), data));
            bytes += data.length;
          }
        }
      }
    }
    long step = checkpoint.state().nextStep();
    String source = checkpoint.directory().toAbsolutePath().toString();
    ImmutableMap<String, String> metadata = ImmutableMap.of(MODEL, ConfigJson.write(model), CHECKPOINT, source, STEP, Long.toString(step));
    SafeTensorsFile file = new SafeTensorsFile(metadata, tensors.buildOrThrow());
    file.write(out, overwrite);
    return new Exported(out, source, step, file.tensors().size(), bytes);
  }
}
