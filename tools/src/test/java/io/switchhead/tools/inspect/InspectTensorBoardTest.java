package io.switchhead.tools.inspect;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.config.Presets;
import io.switchhead.testing.TestPython;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.GraphOperation;

/** The --tensorboard event file, read back by TensorBoard's own event reader: the forward graph, every op of it. */
class InspectTensorBoardTest {

  private static final String READ = String.join("\n",
      "import sys",
      "from tensorboard.backend.event_processing import event_accumulator",
      "acc = event_accumulator.EventAccumulator(sys.argv[1])",
      "acc.Reload()",
      "for node in acc.Graph().node:",
      "    print(node.name + ' ' + node.op)");

  @TempDir Path dir;

  @Test
  void tensorBoardReadsTheForwardGraphWithEveryOp() {
    Path events = dir.resolve("tb");
    InspectReport report = new Inspection(InspectTarget.resolve("switchhead-tiny", w -> {}), false, null, null, events).run();
    assertEquals(1, report.written().size());
    TreeSet<String> read = new TreeSet<>(List.of(TestPython.script(READ, 120, events.toString()).requireSuccess().strip().split("\n")));
    TreeSet<String> built = new TreeSet<>();
    try (ForwardModel model = ForwardModel.build(Presets.get("switchhead-tiny"))) {
      for (Iterator<GraphOperation> it = model.graph().operations(); it.hasNext(); ) {
        GraphOperation op = it.next();
        built.add(op.name() + " " + op.type());
      }
    }
    // TensorFlow Java's toGraphDef would add a NoOp "Init" for registered initialisers; the
    // variables are none (ParamStore.initialize feeds their values), so the graph is the built one.
    assertFalse(read.contains("Init NoOp"), "no TensorFlow initialiser op in the graph TensorBoard shows");
    assertEquals(report.forward().ops(), read.size());
    assertEquals(built, read);
    assertTrue(read.contains("layers/3/attention/sel_v VariableV2"), "the layers' parameters are named as in a checkpoint");
  }
}
