package io.switchhead.tools.inspect;

import io.switchhead.graph.train.AdamW;
import io.switchhead.graph.train.StepKind;
import io.switchhead.graph.train.StepSettings;
import io.switchhead.graph.train.TensorBoardWriter;
import io.switchhead.graph.train.TrainingGraph;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;

/**
 * What {@code inspect} does, apart from its command line: for a resolved target, count its costs, build
 * its graphs and look at them, write the pictures asked for.
 *
 * @param training also build the training step, for its op histogram and XLA report
 * @param graphFile a picture of the forward graph to write (.svg, .png or .dot), or null
 * @param expand the scope the picture shows one level deeper, or null
 * @param tensorBoard a directory for a TensorBoard event file holding the forward graph, or null
 */
public record Inspection(InspectTarget target, boolean training, Path graphFile, String expand, Path tensorBoard) {

  public Inspection {
    if (graphFile != null) {
      GraphFiles.checkName(graphFile);
    }
  }

  public InspectReport run() {
    InspectTarget t = target;
    CostTable costs = CostTable.of(t.model());
    XlaKernels kernels = new XlaKernels();
    List<String> written = new ArrayList<>();
    OpHistogram forward;
    XlaReport xla;
    try (ForwardModel model = ForwardModel.build(t.model())) {
      forward = OpHistogram.of("forward", model.graph());
      xla = XlaReport.of("forward", model.graph(), kernels);
      if (graphFile != null) {
        GraphFiles.write(ScopeGraph.of(model.graph(), model.logits(), expand), graphFile);
        written.add(graphFile.toString());
      }
      if (tensorBoard != null) {
        try (TensorBoardWriter events = new TensorBoardWriter(tensorBoard)) {
          events.graph(model.graph().toGraphDef());
          written.add(events.file().toString());
        }
      }
    }
    OpHistogram trainingOps = null;
    if (training) {
      // Batch 1 and the plain step: the op types are those of any batch; the XLA step compiles this same forward and backward.
      try (TrainingGraph step = new TrainingGraph(t.model(), new StepSettings(1, 0, AdamW.paper(0.0), 1.0), EnumSet.of(StepKind.PLAIN))) {
        trainingOps = OpHistogram.of("training step", step.graph());
        xla = XlaReport.of("training step", step.graph(), kernels);
      }
    }
    SavedModelView saved = t.savedModel() == null ? null : SavedModelView.read(t.savedModel());
    return new InspectReport(t.label(), t.kind(), InspectReport.configTree(t), costs, forward, trainingOps, xla, saved, written);
  }
}
