package io.switchhead.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.layers.ExpertCounts;
import io.switchhead.graph.train.TrainConfig;
import io.switchhead.graph.train.Trainer;
import io.switchhead.graph.train.XlaMode;
import io.switchhead.testing.Seeded;
import io.switchhead.testing.TestPython;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The expert-usage histograms a training run logs at each evaluation, read back with TensorBoard's
 * own reader (the test-only Python environment): one per selection and head, one bucket per expert,
 * holding the choices the trainer counted over its validation batches.
 */
class RoutingTensorBoardTest {

  /** Reads every histogram of an event directory: {tag: [{step, num, min, max, limits, buckets}]}. */
  private static final String READ_HISTOGRAMS = String.join("\n",
      "import json, sys",
      "from tensorboard.backend.event_processing.event_accumulator import EventAccumulator",
      "acc = EventAccumulator(sys.argv[1], size_guidance={'histograms': 0})",
      "acc.Reload()",
      "print(json.dumps({tag: [dict(step=e.step, num=e.histogram_value.num, min=e.histogram_value.min,",
      "    max=e.histogram_value.max, limits=list(e.histogram_value.bucket_limit), buckets=list(e.histogram_value.bucket))",
      "    for e in acc.Histograms(tag)] for tag in acc.Tags()['histograms']}))");

  @Seeded private Random random;
  @TempDir Path dir;

  @Test
  void eachEvaluationLogsAUsageHistogramPerSelectionAndHead() throws Exception {
    // SwitchHead H=2, E=3, k=2 and a sigma-MoE feed-forward E=4, k=2, in one layer
    ModelConfig model = new ModelConfig(256, 16, 1, 8, new SwitchHeadConfig(2, 3, 2, 8, Positional.ROPE, 0.0),
        new SigmaMoeConfig(4, 8, 2, 0.0, 1e-3), 0.0, 0.7);
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < 2000; i++) {
      text.append((char) ('a' + random.nextInt(8)));
    }
    Corpus corpus = Corpus.load(Files.writeString(dir.resolve("corpus.txt"), text));
    Path run = dir.resolve("run");
    // 4 steps, evaluated after steps 2 and 4 (report steps 1 and 3) on 3 batches of 2 windows of 8
    TrainConfig train = new TrainConfig(2, 4, 1e-2, 0, 1.0, 0.0, 5, XlaMode.OFF, 2, 3, 1000, 1);
    List<ExpertCounts> last;
    try (Trainer trainer = Trainer.start(model, train, corpus, run);
        TrainingProgress progress = new TrainingProgress(trainer, run, false, new PrintWriter(new StringWriter()))) {
      trainer.run(progress);
      last = trainer.lastExpertCounts();
    }

    JsonNode logged = JsonMapper.builder().build().readTree(
        TestPython.script(READ_HISTOGRAMS, 120, run.resolve("tensorboard").toString()).requireSuccess());
    Set<String> tags = new TreeSet<>();
    logged.fieldNames().forEachRemaining(tags::add);
    assertEquals(Set.of("expert_usage/layers/0/attention/sel_v/head_0", "expert_usage/layers/0/attention/sel_v/head_1",
        "expert_usage/layers/0/attention/sel_o/head_0", "expert_usage/layers/0/attention/sel_o/head_1", "expert_usage/layers/0/ff/sel"),
        tags);
    long choices = 3L * 2 * 8 * 2; // batches x windows x tokens x k
    for (ExpertCounts counts : last) {
      for (int h = 0; h < counts.selection().heads(); h++) {
        JsonNode events = logged.get(TrainingProgress.usageTag(counts, h));
        assertEquals(2, events.size(), counts.name());
        assertEquals(List.of(1L, 3L), List.of(events.get(0).get("step").asLong(), events.get(1).get("step").asLong()));
        JsonNode latest = events.get(1);
        assertEquals(choices, latest.get("num").asLong(), counts.name());
        List<Long> buckets = new ArrayList<>();
        latest.get("buckets").forEach(b -> buckets.add(b.asLong()));
        List<Long> expected = new ArrayList<>();
        for (long c : counts.head(h)) {
          expected.add(c);
        }
        assertEquals(expected, buckets, counts.name() + " head " + h);
        List<Double> limits = new ArrayList<>();
        latest.get("limits").forEach(l -> limits.add(l.asDouble()));
        assertEquals(counts.selection().experts(), limits.size());
        assertEquals(counts.selection().experts() - 0.5, limits.get(limits.size() - 1), 0.0);
      }
    }
  }
}
