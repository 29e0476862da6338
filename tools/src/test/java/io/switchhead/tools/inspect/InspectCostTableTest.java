package io.switchhead.tools.inspect;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.Presets;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The cost table's numbers for the paper's presets are those of SWITCHHEAD.md section 6. */
class InspectCostTableTest {

  /** Each preset's table, built once for the class: a 47M preset's graph takes seconds to build and count. */
  private static final Map<String, CostTable> tables = new HashMap<>();

  private static synchronized CostTable table(String preset) {
    return tables.computeIfAbsent(preset, name -> CostTable.of(Presets.get(name)));
  }

  /** Rounds as the paper's tables do: to 0.1 of the unit. */
  private static double rounded(double value, double unit) {
    return Math.round(value / unit * 10) / 10.0;
  }

  @Test
  void paperColumnsOfThe47mPresetsAreSection6sValues() {
    CostTable sh = table("switchhead-47m-wikitext103");
    CostTable dense = table("dense-47m");
    for (int layer : new int[] {0, 15}) {
      assertEquals(170.4, rounded(sh.layer(layer).paperMacs(), 1e6));
      assertEquals(0.8, rounded(sh.layer(layer).paperMemoryFloats(), 1e6));
      assertEquals(453.4, rounded(dense.layer(layer).paperMacs(), 1e6));
      assertEquals(3.5, rounded(dense.layer(layer).paperMemoryFloats(), 1e6));
    }
    assertEquals(202.5, rounded(table("switchhead-47m-c4").layer(0).paperMacs(), 1e6));
    // The total sums the layers.
    assertEquals(16 * sh.layer(0).paperMacs(), sh.total().paperMacs(), 1);
  }

  @Test
  void paperColumnsOfThe262mPresetsAreSection6sValues() {
    CostTable sh = table("switchhead-262m-c4");
    assertEquals(2.4, rounded(sh.layer(0).paperMacs(), 1e9));
    assertEquals(5.6, rounded(sh.layer(0).paperMemoryFloats(), 1e6));
    CostTable.Ratios r = sh.versusBaseline().get(0);
    assertEquals("dense-262m", r.baseline());
    // Section 6: dense 262M is 5.4G MACs and 21.0M floats per layer.
    assertEquals(5.4, rounded(sh.layer(0).paperMacs() / r.paperMacs(), 1e9));
    assertEquals(21.0, rounded(sh.layer(0).paperMemoryFloats() / r.paperMemory(), 1e6));
  }

  @Test
  void builtParametersAreTheFormulasAndSwitchHeadCostsLessThanItsBaseline() {
    CostTable sh = table("switchhead-47m-wikitext103");
    assertEquals(sh.total().paperParameters(), sh.total().builtParameters());
    sh.rows().forEach(row -> assertEquals(row.paperParameters(), row.builtParameters(), row.part()));
    CostTable.Ratios r = sh.versusBaseline().get(0);
    assertEquals("dense-47m", r.baseline());
    assertEquals(1.0, r.parameters(), 0.01);
    assertEquals(170.4 / 453.4, r.paperMacs(), 0.001);
    assertTrue(r.graphMacs() < 0.6, "graph MACs ratio " + r.graphMacs());
    // The graph counts every matmul the layer runs, the paper's formula leaves terms out, never adds.
    assertTrue(sh.layer(0).graphMacs() >= sh.layer(0).paperMacs());
  }
}
