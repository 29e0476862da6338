package io.switchhead.tools.inspect;

import com.google.common.collect.ImmutableList;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.proto.TensorShapeProto;

/**
 * What a SavedModel offers a server, read from its saved_model.pb as {@code saved_model_cli show
 * --all} reads it: per meta graph the tags, each signature's method and its inputs and outputs (key,
 * tensor name, dtype, shape; -1 for a dimension the caller chooses), and the variables with their
 * shapes and bytes.
 */
public record SavedModelView(String path, ImmutableList<MetaGraph> metaGraphs) {

  public record MetaGraph(List<String> tags, List<Signature> signatures, List<VariableInfo> variables, long variableBytes) {}

  public record Signature(String key, String method, List<TensorView> inputs, List<TensorView> outputs) {}

  public record TensorView(String key, String name, String dtype, List<Long> shape) {}

  public record VariableInfo(String name, String dtype, List<Long> shape, long bytes) {}

  public static SavedModelView read(Path dir) {
    Path pb = dir.resolve("saved_model.pb");
    try (InputStream in = Files.newInputStream(pb)) {
      SavedModel model = SavedModel.parseFrom(in);
      List<MetaGraph> metas = new ArrayList<>();
      for (MetaGraphDef m : model.getMetaGraphsList()) {
        List<Signature> signatures = new ArrayList<>();
        // Sorted, as saved_model_cli prints them: the proto's map order is not the export's.
        for (Map.Entry<String, SignatureDef> s : new TreeMap<>(m.getSignatureDefMap()).entrySet()) {
          signatures.add(new Signature(s.getKey(), s.getValue().getMethodName(), tensors(s.getValue().getInputsMap()),
              tensors(s.getValue().getOutputsMap())));
        }
        List<VariableInfo> variables = new ArrayList<>();
        for (NodeDef n : m.getGraphDef().getNodeList()) {
          if (n.getOp().equals("VariableV2") || n.getOp().equals("VarHandleOp")) {
            DataType type = n.getAttrOrDefault("dtype", AttrValue.getDefaultInstance()).getType();
            List<Long> shape = dims(n.getAttrOrDefault("shape", AttrValue.getDefaultInstance()).getShape());
            long elements = shape.stream().mapToLong(Long::longValue).reduce(1, (a, b) -> a * b);
            variables.add(new VariableInfo(n.getName(), type.name(), shape, elements * DataTypeBytes.of(type)));
          }
        }
        metas.add(new MetaGraph(List.copyOf(m.getMetaInfoDef().getTagsList()), List.copyOf(signatures), List.copyOf(variables),
            variables.stream().mapToLong(VariableInfo::bytes).sum()));
      }
      return new SavedModelView(dir.toString(), ImmutableList.copyOf(metas));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the SavedModel " + pb, e);
    }
  }

  private static List<TensorView> tensors(Map<String, TensorInfo> infos) {
    return new TreeMap<>(infos).entrySet().stream()
        .map(e -> new TensorView(e.getKey(), e.getValue().getName(), e.getValue().getDtype().name(), dims(e.getValue().getTensorShape())))
        .collect(Collectors.toUnmodifiableList());
  }

  /** The dimensions, -1 for unknown ones; an unknown rank is an empty list, as for a scalar. */
  private static List<Long> dims(TensorShapeProto shape) {
    return shape.getDimList().stream().map(TensorShapeProto.Dim::getSize).toList();
  }
}
