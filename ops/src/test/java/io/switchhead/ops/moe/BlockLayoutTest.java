package io.switchhead.ops.moe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BlockLayoutTest {

  @Test
  void paddedRowsCoverTheWorstCaseAndAreWholeBlocks() {
    // N*k = 14 pairs, M = 4, B = 8: worst case 14 + 4*7 = 42 rows, rounded up to 48.
    BlockLayout layout = new BlockLayout(14, 4, 8);
    assertEquals(48, layout.paddedRows());
    assertEquals(6, layout.blocks());
    // B = 1 pads nothing.
    assertEquals(14, new BlockLayout(14, 4, 1).paddedRows());
  }

  @Test
  void defaultGroupsAreEvenAndAddFewBlocks() {
    // The benchmark at M = 64: 24512 worst-case rows in 192 blocks of 128, 12 groups of 16.
    BlockLayout bench = new BlockLayout(16384, 64, 128);
    assertEquals(16, bench.groupBlocks());
    assertEquals(12, bench.groups());
    assertEquals(192, bench.blocks());
    // Up to 16384 worst-case rows: one group, which runs without a loop.
    BlockLayout small = new BlockLayout(2000 * 8 - 4 * 7, 4, 8);
    assertEquals(1, small.groups());
    assertEquals(2000, small.blocks());
    // 3000 worst-case blocks of 8 rows: 12 groups of 250, not 12 of 256.
    BlockLayout mid = new BlockLayout(3000 * 8 - 4 * 7, 4, 8);
    assertEquals(250, mid.groupBlocks());
    assertEquals(3000, mid.blocks());
    for (int pairs : new int[] {1, 17, 1000, 5000, 40000}) {
      BlockLayout l = new BlockLayout(pairs, 8, 16);
      int worst = (pairs + 8 * 15 + 15) / 16;
      assertTrue(l.blocks() >= worst && l.blocks() < worst + l.groups(), l + " blocks " + l.blocks() + " worst " + worst);
      assertTrue(l.groups() == 1 ? l.paddedRows() <= MoeTuning.BLOCK_LAYOUT_SINGLE_GROUP_MAX_ROWS : l.groupRows() <= MoeTuning.LOOP_GROUP_ROWS, l.toString());
    }
  }

  @Test
  void defaultBlockSizeKeepsWorstCasePaddingUnderAHalf() {
    // The benchmark's shapes: N*k = 16384.
    assertEquals(256, BlockLayout.defaultBlockSize(new MatmulShapes(8192, 512, 128, 4, 2)));
    assertEquals(256, BlockLayout.defaultBlockSize(new MatmulShapes(8192, 512, 128, 16, 2)));
    assertEquals(256, BlockLayout.defaultBlockSize(new MatmulShapes(8192, 512, 128, 32, 2)));
    assertEquals(128, BlockLayout.defaultBlockSize(new MatmulShapes(8192, 512, 128, 64, 2)));
    // Tiny problems fall back to the smallest block.
    assertEquals(8, BlockLayout.defaultBlockSize(new MatmulShapes(7, 5, 3, 4, 2)));
    for (int m : new int[] {1, 3, 8, 17, 64}) {
      MatmulShapes s = new MatmulShapes(4096, 8, 8, m, 2);
      int b = BlockLayout.defaultBlockSize(s);
      assertTrue(Integer.bitCount(b) == 1 && b >= 8 && b <= 256, "B = " + b);
      assertTrue((long) m * b * 2 <= s.pairs() || b == 8, "M=" + m + " B=" + b);
    }
  }

  @Test
  void rejectsNonsense() {
    var error = assertThrows(IllegalArgumentException.class, () -> new BlockLayout(10, 3, 0));
    assertEquals("blockSize B must be >= 1, got 0", error.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new MatmulShapes(0, 1, 1, 1, 1));
    var overflow = assertThrows(IllegalArgumentException.class, () -> new MatmulShapes(1 << 20, 1, 1, 1 << 10, 4));
    assertTrue(overflow.getMessage().contains("int32"), overflow.getMessage());
  }
}
