package io.switchhead.ops.moe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.testing.Seeded;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;

/** The routing tensors against a plain-Java construction of the same layout. */
class BlockRoutingTest {

  @Seeded private Random random;

  /** Expected layout: experts in order, each expert's pairs in pair order, runs padded to B. */
  private record Expected(int[] padPos, int[] pairOfRow, int[] inRun, int[] blockExpert, int usedGroups) {
    static Expected of(int[] ids, int m, BlockLayout layout) {
      int b = layout.blockSize();
      int[] padPos = new int[ids.length];
      int[] pairOfRow = new int[layout.paddedRows()];
      int[] inRun = new int[layout.paddedRows()];
      int[] blockExpert = new int[layout.blocks()];
      Arrays.fill(blockExpert, m - 1); // trailing blocks
      int start = 0;
      for (int e = 0; e < m; e++) {
        int pos = start;
        for (int t = 0; t < ids.length; t++) {
          if (ids[t] == e) {
            padPos[t] = pos;
            pairOfRow[pos] = t;
            inRun[pos] = 1;
            pos++;
          }
        }
        int end = start + (pos - start + b - 1) / b * b;
        for (int blk = start / b; blk < end / b; blk++) {
          blockExpert[blk] = e;
        }
        start = end;
      }
      int usedBlocks = start / b;
      int g = layout.groupBlocks();
      return new Expected(padPos, pairOfRow, inRun, blockExpert, (usedBlocks + g - 1) / g);
    }
  }

  private void check(int rows, int k, int m, int b, int[] ids) {
    check(rows, k, m, BlockLayout.of(new MatmulShapes(rows, 1, 1, m, k), b), ids);
  }

  private void check(int rows, int k, int m, BlockLayout layout, int[] ids) {
    MatmulShapes s = new MatmulShapes(rows, 1, 1, m, k);
    int b = layout.blockSize();
    Expected expected = Expected.of(ids, m, layout);
    try (Graph g = new Graph();
        Session session = new Session(g)) {
      Ops tf = GraphOps.create(g);
      BlockRouting r = BlockRouting.build(tf, tf.constant(Shape.of(rows, k), DataBuffers.of(ids)), s, layout);
      try (Result res =
          session.runner().fetch(r.padPos()).fetch(r.pairOfRow()).fetch(r.sourceRow()).fetch(r.inRun()).fetch(r.blockExpert()).fetch(r.usedGroups()).run()) {
        String what = "rows=" + rows + " k=" + k + " M=" + m + " B=" + b + " G=" + layout.groupBlocks();
        assertArrayEquals(expected.padPos(), Tensors.toInts(res.get(0)), what + " padPos");
        int[] inRun = Tensors.toInts(res.get(3));
        assertArrayEquals(expected.inRun(), inRun, what + " inRun");
        int[] pairOfRow = Tensors.toInts(res.get(1));
        int[] sourceRow = Tensors.toInts(res.get(2));
        for (int p = 0; p < inRun.length; p++) {
          if (inRun[p] == 1) {
            assertEquals(expected.pairOfRow()[p], pairOfRow[p], what + " pairOfRow " + p);
          }
          assertTrue(pairOfRow[p] >= 0 && pairOfRow[p] < ids.length, what + " pair in range");
          assertEquals(pairOfRow[p] / k, sourceRow[p], what + " sourceRow " + p);
        }
        assertArrayEquals(expected.blockExpert(), Tensors.toInts(res.get(4)), what + " blockExpert");
        assertEquals(expected.usedGroups(), Tensors.toInts(res.get(5))[0], what + " usedGroups");
      }
    }
  }

  @Test
  void matchesThePlainJavaLayout() {
    // The last three span several chunks of the prefix count (MoeTuning.PREFIX_COUNT_CHUNK pairs), with
    // and without a partial last chunk.
    int[][] cases = {
      {7, 2, 4, 8}, {13, 2, 16, 4}, {9, 3, 1, 5}, {20, 1, 64, 2}, {6, 4, 4, 1}, {5, 2, 3, 32},
      {300, 2, 8, 16}, {257, 1, 3, 4}, {128, 2, 5, 8}
    };
    for (int[] c : cases) {
      int rows = c[0];
      int k = c[1];
      int m = c[2];
      int[] ids = random.ints(rows * k, 0, m).toArray();
      check(rows, k, m, c[3], ids);
    }
    // Every pair to one expert; and experts that receive nothing at both ends.
    check(11, 2, 5, 4, new int[22]);
    int[] middleOnly = new int[12];
    Arrays.fill(middleOnly, 2);
    check(6, 2, 5, 3, middleOnly);
    // Groups of 1, 2 and 3 blocks: the used ones counted, the buffer rounded up to whole groups.
    for (int g : new int[] {1, 2, 3}) {
      check(40, 2, 6, new BlockLayout(80, 6, 4, g), random.ints(80, 0, 6).toArray());
      check(40, 2, 6, new BlockLayout(80, 6, 4, g), new int[80]);
    }
  }
}
