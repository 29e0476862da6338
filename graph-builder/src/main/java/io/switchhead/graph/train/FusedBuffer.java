package io.switchhead.graph.train;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import io.switchhead.graph.params.ParamStore;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * One replica's pass as one flat float32 vector, and back: what a data-parallel step all-reduces.
 * The layout, in order: the loss and the LM loss, the usage entropies, the dropped shares, the mean
 * Ks, the tracked buffers' targets, then per parameter its gradient; a table read by rows (whose
 * replicas read different rows) as its dense [rows, width] gradient followed by a [rows] count of
 * the reads of each row. Every piece has a static size, so the layout is the same on every replica.
 *
 * @param params the store's parameters, in its order
 * @param buffers the store's tracked buffer updates, in its order
 * @param sparse the indices of the parameters read by rows
 */
record FusedBuffer(ImmutableList<ParamStore.Param> params, ImmutableList<ParamStore.BufferUpdate> buffers,
    ImmutableList<Integer> sparse) {

  /** The layout of the passes over {@code store}. */
  static FusedBuffer of(ParamStore store) {
    return new FusedBuffer(store.params(), store.bufferUpdates(), ParamGradients.sparseRows(store).keySet().asList());
  }

  /** The floats of the buffer of a pass with {@code outputs}. */
  long size(StepFunction.Outputs outputs) {
    return shapes(outputs).stream().mapToLong(Shape::size).sum();
  }

  /** The floats of a pass over the store's parameters, [size]. */
  Operand<TFloat32> flatten(Ops tf, Backward pass) {
    checkArgument(pass.gradients().size() == params.size(), "%s gradients for %s parameters", pass.gradients().size(), params.size());
    List<Operand<TFloat32>> pieces = new ArrayList<>();
    pieces.add(pass.loss());
    pieces.add(pass.lmLoss());
    pieces.addAll(pass.usageEntropy());
    pieces.addAll(pass.droppedShare());
    pieces.addAll(pass.meanK());
    pieces.addAll(pass.bufferTargets());
    for (int i = 0; i < params.size(); i++) {
      Operand<TFloat32> g = pass.gradients().get(i);
      Operand<TInt32> ids = pass.sparseRows().get(i);
      if (ids == null) {
        pieces.add(g);
        continue;
      }
      long[] table = params.get(i).spec().shape().asArray();
      Operand<TInt32> tableRows = tf.constant((int) table[0]);
      Operand<TFloat32> perRow = tf.reshape(g, tf.constant(new long[] {-1, width(table)})); // [M, width]
      pieces.add(tf.math.unsortedSegmentSum(perRow, ids, tableRows)); // [rows, width]
      pieces.add(tf.math.unsortedSegmentSum(tf.dtypes.cast(tf.onesLike(ids), TFloat32.class), ids, tableRows)); // [rows]
    }
    List<Operand<TFloat32>> flat = new ArrayList<>();
    pieces.forEach(p -> flat.add(tf.reshape(p, tf.constant(new int[] {-1}))));
    return tf.concat(flat, tf.constant(0));
  }

  /**
   * The pass whose values {@code flat} holds, as {@link #flatten} laid them out. The XL memories are
   * not in the buffer: the pass returned has none.
   */
  Backward unflatten(Ops tf, Operand<TFloat32> flat, StepFunction.Outputs outputs) {
    List<Shape> shapes = shapes(outputs);
    long[] sizes = shapes.stream().mapToLong(Shape::size).toArray();
    List<Operand<TFloat32>> values = new ArrayList<>();
    List<Output<TFloat32>> parts = tf.splitV(flat, tf.constant(sizes), tf.constant(0), (long) sizes.length).output();
    for (int i = 0; i < parts.size(); i++) {
      values.add(tf.reshape(parts.get(i), tf.constant(shapes.get(i).asArray())));
    }
    int next = 0;
    Operand<TFloat32> loss = values.get(next++);
    Operand<TFloat32> lm = values.get(next++);
    ImmutableList<Operand<TFloat32>> usage = ImmutableList.copyOf(values.subList(next, next += outputs.usages()));
    ImmutableList<Operand<TFloat32>> dropped = ImmutableList.copyOf(values.subList(next, next += outputs.capacities()));
    ImmutableList<Operand<TFloat32>> meanK = ImmutableList.copyOf(values.subList(next, next += outputs.meanKs()));
    ImmutableList<Operand<TFloat32>> targets = ImmutableList.copyOf(values.subList(next, next += buffers.size()));
    ImmutableList.Builder<Operand<TFloat32>> gradients = ImmutableList.builder();
    ImmutableMap.Builder<Integer, Operand<TInt32>> rows = ImmutableMap.builder();
    for (int i = 0; i < params.size(); i++) {
      if (!sparse.contains(i)) {
        gradients.add(values.get(next++));
        continue;
      }
      Operand<TFloat32> dense = values.get(next++); // [rows, width]
      Operand<TFloat32> reads = values.get(next++); // [rows], the replicas' mean count of reads
      Operand<TInt32> read = tf.dtypes.cast(tf.reshape(tf.where(tf.math.greater(reads, tf.constant(0f))), tf.constant(new int[] {-1})),
          TInt32.class); // [U], the rows any replica read
      long[] table = params.get(i).spec().shape().asArray();
      long[] rowShape = Arrays.copyOf(table, table.length);
      rowShape[0] = -1;
      gradients.add(tf.reshape(tf.gather(dense, read, tf.constant(0)), tf.constant(rowShape))); // [U, ...]
      rows.put(i, read);
    }
    return new Backward(loss, lm, gradients.build(), usage, dropped, ImmutableList.of(), targets, rows.buildOrThrow(), meanK);
  }

  /** The pieces' shapes, in the buffer's order. */
  private List<Shape> shapes(StepFunction.Outputs outputs) {
    List<Shape> shapes = new ArrayList<>();
    int scalars = 2 + outputs.usages() + outputs.capacities() + outputs.meanKs();
    for (int i = 0; i < scalars; i++) {
      shapes.add(Shape.scalar());
    }
    buffers.forEach(b -> shapes.add(b.spec().shape()));
    for (int i = 0; i < params.size(); i++) {
      Shape shape = params.get(i).spec().shape();
      if (sparse.contains(i)) {
        long[] table = shape.asArray();
        shapes.add(Shape.of(table[0], width(table)));
        shapes.add(Shape.of(table[0]));
      } else {
        shapes.add(shape);
      }
    }
    return shapes;
  }

  private static long width(long[] table) {
    long w = 1;
    for (int i = 1; i < table.length; i++) {
      w *= table[i];
    }
    return w;
  }
}
