package io.switchhead.graph.params;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import com.google.common.base.Splitter;
import java.util.regex.Pattern;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.family.TFloating;

/**
 * A parameter's identity: its path name (e.g. {@code layers/3/attention/v}), shape, dtype and
 * initializer. Paths are '/'-separated; each part is a legal TensorFlow op name, checked here so
 * the error names the path before TensorFlow's own does.
 */
public record ParamSpec(String path, Shape shape, Class<? extends TFloating> type, Initializer initializer) {

  private static final Pattern PART = Pattern.compile("[A-Za-z0-9.][A-Za-z0-9_.\\-]*");

  public ParamSpec {
    checkNotNull(path, "path");
    checkNotNull(shape, "shape of %s", path);
    checkNotNull(type, "type of %s", path);
    checkNotNull(initializer, "initializer of %s", path);
    checkValidPath(path);
    checkArgument(!shape.isUnknown() && !shape.hasUnknownDimension(), "parameter '%s' needs a fully known shape, got %s", path, shape);
    for (long d : shape.asArray()) {
      checkArgument(d > 0, "parameter '%s' has a non-positive dimension in shape %s", path, shape);
    }
  }

  /** Number of scalars. */
  public long size() {
    return shape.size();
  }

  static void checkValidPath(String path) {
    checkArgument(!path.isEmpty(), "parameter path is empty");
    for (String part : Splitter.on('/').split(path)) {
      checkArgument(
          PART.matcher(part).matches(),
          "parameter path '%s' has part '%s', which is not a legal name (%s)",
          path,
          part,
          PART.pattern());
    }
  }
}
