package io.switchhead.graph.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.layers.LayerContext;
import io.switchhead.graph.model.ForwardGraph;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.GraphOps;
import io.switchhead.testing.Seeded;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TInt32;

/** What a resume keeps, what it may change, and what it refuses before it writes anything. */
class ResumeTest {

  @TempDir Path dir;
  @Seeded private Random random;
  private Corpus corpus;
  private Path run;
  private final List<String> warnings = new ArrayList<>();

  /** 8 steps at lr 1e-2 (warm-up 2), stopped with a checkpoint at step 4. */
  @BeforeEach
  void halfARun() throws Exception {
    corpus = corpus("corpus.txt");
    run = dir.resolve("run");
    try (Trainer trainer = Trainer.start(twoLayers(), TrainerTest.config(8, XlaMode.OFF), corpus, run)) {
      for (int i = 0; i < 4; i++) {
        trainer.step();
      }
      trainer.checkpoint();
    }
  }

  private static ModelConfig twoLayers() {
    ModelConfig one = TrainerTest.tiny();
    return new ModelConfig(one.vocabSize(), one.dModel(), 2, one.context(), one.attention(), one.feedForward(), one.dropout(),
        one.initScale());
  }

  private Corpus corpus(String name) throws Exception {
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < 3000; i++) {
      text.append((char) ('a' + random.nextInt(5)));
    }
    Files.writeString(dir.resolve(name), text);
    return Corpus.load(dir.resolve(name));
  }

  private VerifiedCheckpoint latest() {
    return Checkpoints.latestVerified(run, warnings::add);
  }

  /** After a divergence: a lower peak rate, and more steps; the schedule is that of a run started so. */
  @Test
  void aResumeMayLowerTheLearningRateAndExtendTheSteps() {
    TrainConfig recorded = latest().state().train();
    TrainConfig changed = new TrainConfig(recorded.batch(), 12, 1e-3, recorded.warmupSteps(), 0.5, recorded.weightDecay(),
        recorded.seed(), recorded.xla(), 3, recorded.evalBatches(), 4, 1);
    try (Trainer trainer = Trainer.resume(run, latest(), corpus, changed, false)) {
      Trainer.StepReport step = trainer.step();
      assertEquals(4, step.step());
      assertEquals(new LearningRateSchedule(1e-3, 2, 12, 0).at(4), step.learningRate(), 1e-15);
      trainer.run(new Trainer.Listener() {});
      assertEquals(12, trainer.nextStep());
    }
    RunState state = latest().state();
    assertEquals(changed, state.train(), "the next checkpoints record the settings in effect");
    assertEquals(List.of("step-000000012"), new Checkpoints(run, 1).manifest().orElseThrow().kept(), "keep 1 in effect");
  }

  @Test
  void aResumeKeepsWhatDefinesTheRunAndCannotGoBack() throws Exception {
    TrainConfig r = latest().state().train();
    Map<String, String> before = Damage.snapshot(run);
    var batch = assertThrows(IllegalArgumentException.class, () -> Trainer.resume(run, latest(), corpus,
        new TrainConfig(8, r.steps(), r.learningRate(), r.warmupSteps(), r.gradientClip(), r.weightDecay(), r.seed(), r.xla(),
            r.evalEvery(), r.evalBatches(), r.checkpointEvery(), r.keepCheckpoints()), false));
    assertEquals("a resumed run keeps its batch (4), asked for 8", batch.getMessage());
    var shorter = assertThrows(IllegalArgumentException.class, () -> Trainer.resume(run, latest(), corpus,
        new TrainConfig(r.batch(), 3, r.learningRate(), r.warmupSteps(), r.gradientClip(), r.weightDecay(), r.seed(), r.xla(),
            r.evalEvery(), r.evalBatches(), r.checkpointEvery(), r.keepCheckpoints()), false));
    assertTrue(shorter.getMessage().startsWith("steps (3) is below the step the run reached (4)"), shorter.getMessage());
    assertEquals(before, Damage.snapshot(run));
  }

  @Test
  void otherDataIsRefusedUnlessAllowedAndThenRecorded() throws Exception {
    Corpus other = corpus("other.txt");
    var refused = assertThrows(IllegalArgumentException.class, () -> Trainer.resume(run, latest(), other, latest().state().train(), false));
    assertTrue(refused.getMessage().startsWith(other.source() + " is not the data the run in " + run + " trains on (" + corpus.source()),
        refused.getMessage());
    try (Trainer trainer = Trainer.resume(run, latest(), other, latest().state().train(), true)) {
      trainer.step();
      trainer.checkpoint();
    }
    RunState state = latest().state();
    assertEquals(other.source(), state.data());
    assertEquals(List.of(new RunState.DataChange(4, corpus.source(), other.source())), state.dataChanges());
    // The recorded data is the one a plain resume then expects.
    try (Trainer trainer = Trainer.resume(run, other, warnings::add)) {
      assertEquals(5, trainer.nextStep());
    }
  }

  /**
   * A state edited to fewer layers (in a manifest without digests, which would catch the edit) is
   * refused before anything is restored or written: TensorFlow alone would restore the first layer
   * of two and train on (or generate from it).
   */
  @Test
  void aStateThatDoesNotMatchTheCheckpointsVariablesIsRefused() throws Exception {
    Damage.forgetDigests(run);
    Path checkpoint = run.resolve("checkpoints").resolve("step-000000004");
    Damage.editState(checkpoint, "\"layers\" : 2", "\"layers\" : 1");
    Map<String, String> before = Damage.snapshot(run);
    var error = assertThrows(IllegalArgumentException.class, () -> Trainer.resume(run, corpus, warnings::add));
    assertTrue(error.getMessage().startsWith("checkpoint step-000000004 does not hold the variables of the model its state describes ("),
        error.getMessage());
    assertTrue(error.getMessage().contains("layers/1/"), error.getMessage());
    assertFalse(error.getMessage().contains("/adam_"), "the parameters that differ are shown, not their slots: " + error.getMessage());
    var generating = assertThrows(IllegalArgumentException.class, () -> restoreForEvaluation(run));
    assertEquals(error.getMessage().replaceFirst(" \\(.*", ""), generating.getMessage().replaceFirst(" \\(.*", ""));
    assertEquals(before, Damage.snapshot(run), "nothing in the run directory changed");
  }

  @Test
  void aFinishedRunResumedIsFinishedWithItsValidationBpc() {
    double bpc;
    try (Trainer trainer = Trainer.resume(run, corpus, warnings::add)) {
      bpc = trainer.run(new Trainer.Listener() {}).validationBpc();
    }
    assertTrue(latest().state().finished());
    assertEquals(bpc, latest().state().validationBpc());
    try (Trainer trainer = Trainer.resume(run, corpus, warnings::add)) {
      assertTrue(trainer.finished());
      Trainer.Summary summary = trainer.run(new Trainer.Listener() {});
      assertEquals(0, summary.tokens());
      assertEquals(bpc, summary.validationBpc(), "not NaN: the bpc the run ended with");
    }
  }

  /** What every reader of a run's parameters does (generation, export): the evaluation model's variables restored. */
  private void restoreForEvaluation(Path runDir) {
    VerifiedCheckpoint checkpoint = Checkpoints.latestVerified(runDir, warnings::add);
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = GraphOps.create(g);
      Placeholder<TInt32> tokens = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(1, checkpoint.state().model().context())));
      ForwardGraph.build(checkpoint.state().model(), ParamStore.variables(tf, 0), LayerContext.eval(tf), ForwardGraph.Inputs.tokens(tokens));
      checkpoint.restoreParameters(s, SavedVariables.of(g));
    }
  }
}
