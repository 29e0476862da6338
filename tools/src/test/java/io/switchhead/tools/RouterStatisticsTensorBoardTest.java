package io.switchhead.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.MhMoeConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.layers.ExpertCounts;
import io.switchhead.graph.train.TensorBoardReader;
import io.switchhead.graph.train.TrainConfig;
import io.switchhead.graph.train.Trainer;
import io.switchhead.graph.train.XlaMode;
import io.switchhead.testing.Seeded;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.SortedMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The router statistics a training run logs as TensorBoard scalars, read back from the event files:
 * each step's dropped share of an MH-MoE router (what the step reported), and at each evaluation
 * every selection's usage share and unevenness (what its counters say).
 */
class RouterStatisticsTensorBoardTest {

  @Seeded private Random random;
  @TempDir Path dir;

  @Test
  void droppedSharesEachStepAndUsageShareAndUnevennessEachEvaluation() throws Exception {
    // SwitchHead attention and an MH-MoE whose capacity (factor 0.5) must drop half its choices or more.
    ModelConfig model = new ModelConfig(256, 16, 1, 8, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.0),
        new MhMoeConfig(4, 4, 1, 8, 0.5, 0.01, false), 0.0, 0.7);
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < 2000; i++) {
      text.append((char) ('a' + random.nextInt(8)));
    }
    Corpus corpus = Corpus.load(Files.writeString(dir.resolve("corpus.txt"), text));
    Path run = dir.resolve("run");
    TrainConfig train = new TrainConfig(2, 4, 1e-2, 0, 1.0, 0.0, 5, XlaMode.OFF, 2, 3, 1000, 1);
    List<Trainer.StepReport> reports = new ArrayList<>();
    List<ExpertCounts> last;
    try (Trainer trainer = Trainer.start(model, train, corpus, run);
        TrainingProgress progress = new TrainingProgress(trainer, run, false, new PrintWriter(new StringWriter()))) {
      assertEquals(List.of("layers/0/ff/sel"), trainer.droppedNames());
      trainer.run(new Trainer.Listener() {
        @Override
        public void onStep(Trainer.StepReport r) {
          reports.add(r);
          progress.onStep(r);
        }

        @Override
        public void onEvaluation(long step, double validationBpc) {
          progress.onEvaluation(step, validationBpc);
        }

        @Override
        public void onExpertUsage(long step, List<ExpertCounts> usage) {
          progress.onExpertUsage(step, usage);
        }
      });
      last = trainer.lastExpertCounts();
    }
    Path board = run.resolve("tensorboard");
    SortedMap<Long, Float> dropped = TensorBoardReader.scalars(board, "expert_dropped_share/layers/0/ff/sel");
    assertEquals(4, dropped.size(), dropped.toString());
    for (Trainer.StepReport r : reports) {
      assertEquals(1, r.droppedShare().length);
      assertTrue(r.droppedShare()[0] >= 0.5, "step " + r.step() + ": " + r.droppedShare()[0]);
      assertEquals((float) r.droppedShare()[0], dropped.get(r.step()), "step " + r.step());
    }
    assertEquals(3, last.size(), "sel_v and sel_o (two heads each) and the router (four sub-tokens as heads)");
    for (ExpertCounts counts : last) {
      for (int h = 0; h < counts.selection().heads(); h++) {
        String tag = TrainingProgress.usageTag(counts, h).substring("expert_usage/".length());
        SortedMap<Long, Float> share = TensorBoardReader.scalars(board, "expert_usage_share/" + tag);
        SortedMap<Long, Float> uneven = TensorBoardReader.scalars(board, "expert_unevenness/" + tag);
        assertEquals(List.of(1L, 3L), List.copyOf(share.keySet()), tag);
        assertEquals((float) counts.usageShare(h), share.get(3L), tag);
        assertEquals((float) counts.unevenness(h), uneven.get(3L), tag);
      }
    }
  }
}
