package io.switchhead.tools;

import io.switchhead.graph.layers.ExpertCounts;
import io.switchhead.graph.train.MeanKSite;
import io.switchhead.graph.train.TensorBoardWriter;
import io.switchhead.graph.train.Trainer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** Shows training on the terminal (a progress bar) and records it for TensorBoard. */
final class TrainingProgress implements Trainer.Listener, AutoCloseable {

  private final ProgressBar bar;
  private final TensorBoardWriter board;
  private final List<String> usageNames;
  private final List<String> droppedNames;
  private final List<MeanKSite> meanKSites;
  private final double[] meanKSums; // per dynamic-k selection, summed over this run's steps
  private long meanKSteps;
  private final PrintWriter out;
  private double smoothedLoss = Double.NaN;
  private double lastBpc = Double.NaN;
  private long tokens;
  private double seconds;

  TrainingProgress(Trainer trainer, Path runDir, boolean showBar, PrintWriter out) {
    this.out = out;
    this.usageNames = trainer.usageNames();
    this.droppedNames = trainer.droppedNames();
    this.meanKSites = trainer.meanKSites();
    this.meanKSums = new double[meanKSites.size()];
    this.board = new TensorBoardWriter(runDir.resolve("tensorboard"));
    this.bar = showBar
        ? new ProgressBarBuilder().setTaskName("train").setInitialMax(trainer.trainConfig().steps())
            .startsFrom(trainer.nextStep(), java.time.Duration.ZERO).setStyle(ProgressBarStyle.ASCII)
            .setUpdateIntervalMillis(500).setMaxRenderedLength(120).build()
        : null;
  }

  @Override
  public void onStep(Trainer.StepReport r) {
    smoothedLoss = Double.isNaN(smoothedLoss) ? r.lmLoss() : 0.95 * smoothedLoss + 0.05 * r.lmLoss();
    tokens += r.tokens();
    seconds += r.seconds();
    board.scalar("train/loss", r.step(), r.lmLoss());
    board.scalar("train/learning_rate", r.step(), r.learningRate());
    board.scalar("train/gradient_norm", r.step(), r.gradientNorm());
    for (int i = 0; i < r.usageEntropy().length; i++) {
      board.scalar("expert_usage_entropy/" + usageNames.get(i), r.step(), r.usageEntropy()[i]);
    }
    for (int i = 0; i < r.droppedShare().length; i++) {
      board.scalar("expert_dropped_share/" + droppedNames.get(i), r.step(), r.droppedShare()[i]);
    }
    // Dynamic k (our design): the K tokens used, and the share of expert slots masked against K_max.
    for (int i = 0; i < r.meanK().length; i++) {
      MeanKSite site = meanKSites.get(i);
      board.scalar("expert_mean_k/" + site.name(), r.step(), r.meanK()[i]);
      board.scalar("expert_slots_saved/" + site.name(), r.step(), site.computeSaved(r.meanK()[i]));
      meanKSums[i] += r.meanK()[i];
    }
    meanKSteps += r.meanK().length > 0 ? 1 : 0;
    if (bar != null) {
      bar.stepTo(r.step() + 1);
      updateMessage();
    }
  }

  private void updateMessage() {
    bar.setExtraMessage(String.format(Locale.ROOT, " loss %.3f | val %s bpc | %,.0f tok/s%s", smoothedLoss,
        Double.isNaN(lastBpc) ? "-" : String.format(Locale.ROOT, "%.3f", lastBpc), tokens / Math.max(seconds, 1e-9),
        meanKSteps == 0 ? "" : String.format(Locale.ROOT, " | saved %.0f%% slots", 100 * meanSaved())));
  }

  @Override
  public void onEvaluation(long step, double validationBpc) {
    lastBpc = validationBpc;
    board.scalar("validation/bpc", step, validationBpc);
    board.flush();
    if (bar != null) {
      updateMessage();
    } else {
      out.printf(Locale.ROOT, "step %d: train loss %.4f, validation %.4f bpc, %,.0f tokens/s%s%n", step + 1, smoothedLoss,
          validationBpc, tokens / Math.max(seconds, 1e-9),
          meanKSteps == 0 ? "" : String.format(Locale.ROOT, ", %.1f%% of expert slots masked by dynamic k", 100 * meanSaved()));
      out.flush();
    }
  }

  /** The mean over dynamic-k selections of the share of slots they masked, averaged over this run's steps. */
  private double meanSaved() {
    double saved = 0;
    for (int i = 0; i < meanKSites.size(); i++) {
      saved += meanKSites.get(i).computeSaved(meanKSums[i] / meanKSteps);
    }
    return saved / meanKSites.size();
  }

  /**
   * Per dynamic-k selection (our design), its mean K over this run's steps against its K_max, one
   * line each; empty without dynamic-k selections or steps.
   */
  List<String> meanKSummary() {
    List<String> lines = new java.util.ArrayList<>();
    for (int i = 0; meanKSteps > 0 && i < meanKSites.size(); i++) {
      MeanKSite site = meanKSites.get(i);
      double meanK = meanKSums[i] / meanKSteps;
      lines.add(String.format(Locale.ROOT, "dynamic k: %s used %.3f of K_max = %d experts per head and token (%.1f%% of expert slots masked)",
          site.name(), meanK, site.kMax(), 100 * site.computeSaved(meanK)));
    }
    return lines;
  }

  /**
   * One histogram per selection and head, with its usage share and unevenness, at evaluation time
   * only: counted over the fixed validation batches, so the values of different steps compare, and
   * the training step fetches nothing more.
   */
  @Override
  public void onExpertUsage(long step, List<ExpertCounts> usage) {
    for (ExpertCounts counts : usage) {
      for (int h = 0; h < counts.selection().heads(); h++) {
        board.histogram(usageTag(counts, h), step, counts.head(h));
        board.scalar(usageTag(counts, h).replaceFirst("^expert_usage/", "expert_usage_share/"), step, counts.usageShare(h));
        board.scalar(usageTag(counts, h).replaceFirst("^expert_usage/", "expert_unevenness/"), step, counts.unevenness(h));
      }
    }
    board.flush();
  }

  /** {@code expert_usage/layers/0/attention/sel_v/head_1}; a feed-forward selection has one head and no suffix. */
  static String usageTag(ExpertCounts counts, int head) {
    String base = "expert_usage/" + counts.name();
    return counts.selection().heads() == 1 ? base : base + "/head_" + head;
  }

  @Override
  public void onCheckpoint(long step, java.nio.file.Path directory) {
    if (bar == null) {
      out.printf(Locale.ROOT, "checkpoint of step %d: %s%n", step + 1, directory);
      out.flush();
    }
  }

  @Override
  public void close() {
    if (bar != null) {
      bar.close();
    }
    board.close();
  }
}
