package io.switchhead.savedmodel.weights;

import static com.google.common.base.Preconditions.checkArgument;

import java.util.Arrays;
import org.tensorflow.ndarray.Shape;

/**
 * How a parameter's elements are laid out in the file against the project: the project's axes
 * permuted, then (for the dense-head layouts) two neighbouring axes merged. Both directions only
 * move bytes, so a round trip is bit-exact whatever the values (NaN payloads included).
 */
public enum Layout {
  /** The same shape and order. */
  AS_IS("as is", new int[0], 0),
  /** A matrix transposed: the project's x @ W [in, out] is PyTorch's F.linear(x, W^T) with weight [out, in]. */
  TRANSPOSED("transposed", new int[] {1, 0}, 0),
  /** [H, D, dh] -> [H*dh, D]: per-head value experts as one dense Linear weight (SwitchHead with E = 1). */
  HEADS_TO_ROWS("[H, D, dh] -> [H, dh, D] -> [H*dh, D]", new int[] {0, 2, 1}, 0),
  /** [H, dh, D] -> [D, H*dh]: per-head output experts as one dense Linear weight (SwitchHead with E = 1). */
  HEADS_TO_COLUMNS("[H, dh, D] -> [D, H, dh] -> [D, H*dh]", new int[] {2, 0, 1}, 1);

  private final String description;
  private final int[] permutation;
  /** After permuting, axes {@code merged} and {@code merged + 1} become one (rank-3 layouts only). */
  private final int merged;

  Layout(String description, int[] permutation, int merged) {
    this.description = description;
    this.permutation = permutation;
    this.merged = merged;
  }

  /** What the README's mapping table says. */
  public String description() {
    return description;
  }

  /** The file's shape of a parameter of the project's shape {@code shape}. */
  public Shape fileShape(Shape shape) {
    long[] permuted = permuted(shape);
    if (permutation.length < 3) {
      return Shape.of(permuted);
    }
    long[] out = new long[permuted.length - 1];
    for (int i = 0, j = 0; i < permuted.length; i++, j++) {
      out[j] = permuted[i];
      if (i == merged) {
        out[j] *= permuted[++i];
      }
    }
    return Shape.of(out);
  }

  /** The file's bytes of a parameter of the project's shape {@code shape}. */
  public byte[] toFile(byte[] data, Shape shape, int elementBytes) {
    return this == AS_IS ? data : permute(data, shape.asArray(), permutation, elementBytes);
  }

  /** The project's bytes of a parameter of the project's shape {@code shape}, from the file's bytes. */
  public byte[] fromFile(byte[] data, Shape shape, int elementBytes) {
    if (this == AS_IS) {
      return data;
    }
    int[] inverse = new int[permutation.length];
    for (int i = 0; i < permutation.length; i++) {
      inverse[permutation[i]] = i;
    }
    return permute(data, permuted(shape), inverse, elementBytes);
  }

  private long[] permuted(Shape shape) {
    checkArgument(this == AS_IS || shape.numDimensions() == permutation.length, "the %s layout is for rank %s, got shape %s",
        description, permutation.length, shape);
    if (this == AS_IS) {
      return shape.asArray();
    }
    long[] dims = shape.asArray();
    long[] out = new long[dims.length];
    for (int i = 0; i < dims.length; i++) {
      out[i] = dims[permutation[i]];
    }
    return out;
  }

  /**
   * Row-major {@code data} of shape {@code dims}, with its axes permuted: axis i of the result is
   * axis {@code perm[i]} of the input.
   */
  static byte[] permute(byte[] data, long[] dims, int[] perm, int elementBytes) {
    int rank = dims.length;
    checkArgument(perm.length == rank, "permutation %s for shape %s", Arrays.toString(perm), Arrays.toString(dims));
    long[] inStrides = new long[rank];
    long stride = 1;
    for (int i = rank - 1; i >= 0; i--) {
      inStrides[i] = stride;
      stride *= dims[i];
    }
    int[] outDims = new int[rank];
    long[] strides = new long[rank]; // the input stride of each output axis
    for (int i = 0; i < rank; i++) {
      outDims[i] = Math.toIntExact(dims[perm[i]]);
      strides[i] = inStrides[perm[i]];
    }
    byte[] out = new byte[data.length];
    int[] index = new int[rank];
    long from = 0;
    for (int to = 0; to < out.length; to += elementBytes) {
      System.arraycopy(data, (int) (from * elementBytes), out, to, elementBytes);
      // The next output index, row-major, and where it reads from.
      for (int axis = rank - 1; axis >= 0; axis--) {
        from += strides[axis];
        if (++index[axis] < outDims[axis]) {
          break;
        }
        from -= strides[axis] * outDims[axis];
        index[axis] = 0;
      }
    }
    return out;
  }
}
