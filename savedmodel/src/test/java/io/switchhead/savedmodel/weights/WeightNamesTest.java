package io.switchhead.savedmodel.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.DenseAttentionConfig;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.Presets;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.testing.Seeded;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tensorflow.ndarray.Shape;

/**
 * The safetensors names, shapes and layouts: golden inventories of small models (every rule of the
 * scheme once), every preset named without a clash, and the layouts against index-by-index references.
 */
class WeightNamesTest {

  @Seeded private Random random;

  /** One line of an inventory: "project path [shape] -> file name [shape]". */
  private static List<String> inventory(ModelConfig model) {
    return WeightNames.of(model).stream()
        .map(w -> w.path() + " " + w.shape() + " -> " + w.name() + " " + w.fileShape()).toList();
  }

  /** XL SwitchHead (E = 3) and the sigma-MoE: D 10, H 2, dh 6, E 3, 4 experts of 7, V 11. */
  @Test
  void switchAllXlUsesTheAuthorsNamesAndShapes() {
    ModelConfig model = new ModelConfig(11, 10, 1, 4, new SwitchHeadConfig(2, 3, 2, 6, Positional.XL, 0),
        new SigmaMoeConfig(4, 7, 2, 0, 1e-3), 0, 0.5);
    assertEquals(List.of(
        "embedding [11, 10] -> embedding.weight [11, 10]",
        "layers/0/attention_norm/weight [10] -> layers.0.attention_norm.weight [10]",
        "layers/0/attention_norm/bias [10] -> layers.0.attention_norm.bias [10]",
        "layers/0/attention/q [10, 12] -> layers.0.attention.q.weight [12, 10]",
        "layers/0/attention/k [10, 12] -> layers.0.attention.k.weight [12, 10]",
        "layers/0/attention/v [6, 10, 6] -> layers.0.attention.v [6, 10, 6]",
        "layers/0/attention/o [6, 6, 10] -> layers.0.attention.o [6, 6, 10]",
        "layers/0/attention/sel_o [6, 10] -> layers.0.attention.sel_o [6, 10]",
        "layers/0/attention/sel_v [6, 10] -> layers.0.attention.sel_v [6, 10]",
        "layers/0/attention/pos_to_pk [10, 12] -> layers.0.attention.pos_to_pk [12, 10]",
        "layers/0/ff_norm/weight [10] -> layers.0.ff_norm.weight [10]",
        "layers/0/ff_norm/bias [10] -> layers.0.ff_norm.bias [10]",
        "layers/0/ff/sel [4, 10] -> layers.0.ff.expert_sel [4, 10]",
        "layers/0/ff/keys [4, 10, 7] -> layers.0.ff.keys [4, 10, 7]",
        "layers/0/ff/values [4, 7, 10] -> layers.0.ff.values [4, 7, 10]",
        "final_norm/weight [10] -> final_norm.weight [10]",
        "final_norm/bias [10] -> final_norm.bias [10]",
        "output/w [10, 11] -> output.weight [11, 10]",
        "output/b [11] -> output.bias [11]"), inventory(model));
  }

  /** SwitchHead with one expert per head is the authors' dense-V/O module: v [H*dh, D], o [D, H*dh], no sel_v. */
  @Test
  void oneExpertPerHeadUsesTheAuthorsDenseValueAndOutputShapes() {
    ModelConfig model = new ModelConfig(11, 10, 1, 4, new SwitchHeadConfig(3, 1, 1, 8, Positional.ROPE, 0),
        new DenseFeedForwardConfig(5), 0, 0.5);
    List<String> attention = inventory(model).stream().filter(l -> l.contains("/attention/")).toList();
    assertEquals(List.of(
        "layers/0/attention/q [10, 24] -> layers.0.attention.q.weight [24, 10]",
        "layers/0/attention/k [10, 24] -> layers.0.attention.k.weight [24, 10]",
        "layers/0/attention/v [3, 10, 8] -> layers.0.attention.v [24, 10]",
        "layers/0/attention/o [3, 8, 10] -> layers.0.attention.o [10, 24]",
        "layers/0/attention/sel_o [3, 10] -> layers.0.attention.sel_o [3, 10]"), attention);
  }

  /** Dense XL attention and the dense feed-forward: nn.Linear weights [out, in], Transformer-XL's biases as they are. */
  @Test
  void denseLayersUseLinearNames() {
    ModelConfig model = new ModelConfig(11, 10, 1, 4, new DenseAttentionConfig(2, 6, Positional.XL), new DenseFeedForwardConfig(5),
        0, 0.5);
    List<String> layer = inventory(model).stream().filter(l -> l.contains("/attention/") || l.contains("/ff/")).toList();
    assertEquals(List.of(
        "layers/0/attention/q [10, 12] -> layers.0.attention.q.weight [12, 10]",
        "layers/0/attention/k [10, 12] -> layers.0.attention.k.weight [12, 10]",
        "layers/0/attention/v [10, 12] -> layers.0.attention.v.weight [12, 10]",
        "layers/0/attention/o [12, 10] -> layers.0.attention.o.weight [10, 12]",
        "layers/0/attention/u_bias [2, 6] -> layers.0.attention.u_bias [2, 6]",
        "layers/0/attention/v_bias [2, 6] -> layers.0.attention.v_bias [2, 6]",
        "layers/0/attention/pos_to_pk [10, 12] -> layers.0.attention.pos_to_pk [12, 10]",
        "layers/0/ff/w1 [10, 5] -> layers.0.ff.linear1.weight [5, 10]",
        "layers/0/ff/b1 [5] -> layers.0.ff.linear1.bias [5]",
        "layers/0/ff/w2 [5, 10] -> layers.0.ff.linear2.weight [10, 5]",
        "layers/0/ff/b2 [10] -> layers.0.ff.linear2.bias [10]"), layer);
  }

  @Test
  void everyPresetHasANameForEveryParameterAndNoNameTwice() {
    for (String preset : Presets.names()) {
      List<WeightName> names = WeightNames.of(Presets.get(preset));
      Set<String> seen = new HashSet<>();
      for (WeightName w : names) {
        assertTrue(seen.add(w.name()), preset + ": " + w.name() + " twice");
        assertEquals(w.shape().size(), w.fileShape().size(), preset + ": " + w.path());
      }
    }
  }

  private float[] randomFloats(int n) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) random.nextGaussian();
    }
    return x;
  }

  private static byte[] bytes(float[] x) {
    ByteBuffer b = ByteBuffer.allocate(x.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(x);
    return b.array();
  }

  private static float[] floats(byte[] b) {
    float[] x = new float[b.length / 4];
    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(x);
    return x;
  }

  /** Distinct primes, so that a mixed-up axis moves elements to other places. */
  private static final int H = 2;
  private static final int D = 5;
  private static final int DH = 3;

  @Test
  void transposedIsTheMatrixTransposed() {
    float[] w = randomFloats(D * 7);
    float[] file = floats(Layout.TRANSPOSED.toFile(bytes(w), Shape.of(D, 7), 4));
    for (int i = 0; i < D; i++) {
      for (int j = 0; j < 7; j++) {
        assertEquals(w[i * 7 + j], file[j * D + i], "w[" + i + ", " + j + "]");
      }
    }
    assertEquals(Shape.of(7, D), Layout.TRANSPOSED.fileShape(Shape.of(D, 7)));
  }

  /** The authors' E = 1 value weight: row h*dh + j, column d is the project's v[h, d, j]. */
  @Test
  void headsToRowsIsTheAuthorsDenseValueWeight() {
    float[] v = randomFloats(H * D * DH);
    float[] file = floats(Layout.HEADS_TO_ROWS.toFile(bytes(v), Shape.of(H, D, DH), 4));
    for (int h = 0; h < H; h++) {
      for (int d = 0; d < D; d++) {
        for (int j = 0; j < DH; j++) {
          assertEquals(v[(h * D + d) * DH + j], file[(h * DH + j) * D + d], "v[" + h + ", " + d + ", " + j + "]");
        }
      }
    }
    assertEquals(Shape.of(H * DH, D), Layout.HEADS_TO_ROWS.fileShape(Shape.of(H, D, DH)));
  }

  /** The authors' E = 1 output weight: row d, column h*dh + j is the project's o[h, j, d]. */
  @Test
  void headsToColumnsIsTheAuthorsDenseOutputWeight() {
    float[] o = randomFloats(H * DH * D);
    float[] file = floats(Layout.HEADS_TO_COLUMNS.toFile(bytes(o), Shape.of(H, DH, D), 4));
    for (int h = 0; h < H; h++) {
      for (int j = 0; j < DH; j++) {
        for (int d = 0; d < D; d++) {
          assertEquals(o[(h * DH + j) * D + d], file[d * (H * DH) + h * DH + j], "o[" + h + ", " + j + ", " + d + "]");
        }
      }
    }
    assertEquals(Shape.of(D, H * DH), Layout.HEADS_TO_COLUMNS.fileShape(Shape.of(H, DH, D)));
  }

  /** Random bytes, NaN patterns among them, come back unchanged through every layout. */
  @Test
  void everyLayoutComesBackBitForBit() {
    for (Layout layout : Layout.values()) {
      Shape shape = layout == Layout.TRANSPOSED ? Shape.of(D, 7) : Shape.of(H, D, DH);
      byte[] data = new byte[(int) shape.size() * 4];
      random.nextBytes(data);
      assertArrayEquals(data, layout.fromFile(layout.toFile(data, shape, 4), shape, 4), layout.name());
    }
  }
}
