package io.switchhead.tools.bench;

import io.switchhead.graph.train.StepKind;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** {@link CompareBenchmark.Figures} as Markdown: the step table, then the quality table if trained. */
public final class CompareTable {

  private static final double MB = 1e6;

  private CompareTable() {}

  /** Op types, and parts' op types, listed per model by {@link #profile}. */
  static final int PROFILE_OP_TYPES = 12;

  public static String markdown(CompareBenchmark.Figures f) {
    StringBuilder out = new StringBuilder();
    CompareBenchmark.Settings s = f.settings();
    out.append(String.format(Locale.ROOT, "%s, %s UTC. Batch %d; %d repetitions of %d steps, interleaved; matmul limit %.0f GFLOP/s "
            + "(%d^3 float32, the best of %d measurements before and after each repetition, %.0f to %.0f). Ratios are to %s.%n%n",
        CpuName.describe(), LocalDate.now(ZoneOffset.UTC), s.batch(), s.repeats(), s.steps(), f.limit(), CompareBenchmark.LIMIT_MATMUL_SIZE,
        f.matmulGflops().size(), f.matmulGflops().stream().mapToDouble(Double::doubleValue).min().orElseThrow(), f.limit(), f.reference()));
    out.append("| model | step | parameters | ms/step (min-max) | time / ref | tokens/s | GFLOP/s | of limit (min-max) | variables | activations | activations / ref | step memory | memory / ref | RSS growth |\n");
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (CompareBenchmark.Row r : f.rows()) {
      CompareBenchmark.Row ref = f.referenceRow(r.kind());
      String untraced = r.kind().compiled() ? "in XLA" : "not traced";
      String activations = r.stepBytes().map(m -> mb(m.activations())).orElse(untraced);
      String activationRatio = r.stepBytes().flatMap(m -> ref.stepBytes().map(rm -> ratio((double) m.activations() / rm.activations())))
          .orElse("-");
      String memory = r.stepBytes().map(m -> mb(m.peak())).orElse(untraced);
      String memoryRatio = r.stepBytes().flatMap(m -> ref.stepBytes().map(rm -> ratio((double) m.peak() / rm.peak()))).orElse("-");
      out.append(String.format(Locale.ROOT, "| %s | %s | %,d | %.1f (%.1f-%.1f) | %s | %,.0f | %.1f | %.1f%% (%.1f-%.1f%%) | %s | %s | %s | %s | %s | %s |%n",
          r.entry().name(), r.kind().label(), r.parameters(), r.millis().median(), r.millis().min(), r.millis().max(),
          ratio(r.millis().median() / ref.millis().median()), r.tokensPerSecond(), r.gflops(), 100 * r.shareOfLimit().median(),
          100 * r.shareOfLimit().min(), 100 * r.shareOfLimit().max(),
          mb(r.variableBytes()), activations, activationRatio, memory, memoryRatio, mb(r.rssGrowthBytes())));
    }
    out.append(String.format(Locale.ROOT, "%nGFLOP/s: 2 x the MACs of the matmuls the plain step executed (TensorFlow's trace), over the median "
        + "time. Of limit: each repetition's GFLOP/s over the better of the limits measured just before and just after its steps, "
        + "median (min-max) of the repetitions. Variables: parameters, AdamW slots, buffers and XL memory. Step memory: how far the bytes TensorFlow's allocator "
        + "held rose during a plain step above what it held just before (activations, gradients, temporaries; on CPU only "
        + "allocations of 256 KiB and up, the ones oneDNN's allocator counts); \"in XLA\": the compiled step's buffers are allocated inside its one node, "
        + "out of the trace's sight. Activations: how far they rose while the forward pass ran, before any gradient: what the "
        + "forward pass keeps for the backward one. RSS growth: the process's resident memory gained while the model was built and first "
        + "stepped (every step kind). Peak RSS of the process: %s.%n", mb(f.peakRssBytes())));
    if (!f.pytorch().isEmpty()) {
      out.append(pytorch(f));
    }
    if (!f.inference().isEmpty()) {
      GenerationBenchmark.Figures ref = f.inference().get(f.reference());
      out.append("\n| model | generation, batch 1: decode_token (XLA) | decode_step | serving_default 1 x T | 32 x T | decode_token / ref |\n");
      out.append("|---|---|---|---|---|---|\n");
      for (Map.Entry<String, GenerationBenchmark.Figures> g : f.inference().entrySet()) {
        GenerationBenchmark.Figures x = g.getValue();
        out.append(String.format(Locale.ROOT, "| %s | %,.1f tok/s | %,.1f tok/s | %,.0f tok/s | %,.0f tok/s | %s |%n", g.getKey(),
            x.cachedTokensPerSecond(), x.uncompiledCachedTokensPerSecond(), x.windowBatch1TokensPerSecond(), x.windowBatch32TokensPerSecond(),
            ratio(x.cachedTokensPerSecond() / ref.cachedTokensPerSecond())));
      }
      out.append(String.format(Locale.ROOT, "%nThe serving graph an export writes, in process with fresh parameters: %d tokens generated per "
          + "repetition with the cache after a one-token prompt (medians of %d), and whole windows of T tokens through serving_default.%n",
          s.inferenceTokens(), s.repeats()));
    }
    if (!f.quality().isEmpty()) {
      QualityRun.Quality ref = f.quality().get(f.reference());
      out.append(String.format(Locale.ROOT, "%n| model | validation bpc after %d steps | bpc / ref | training tokens/s | run time |%n", s.qualitySteps()));
      out.append("|---|---|---|---|---|\n");
      for (Map.Entry<String, QualityRun.Quality> q : f.quality().entrySet()) {
        out.append(String.format(Locale.ROOT, "| %s | %.4f | %s | %,.0f | %.0f s |%n", q.getKey(), q.getValue().validationBpc(),
            ratio(q.getValue().validationBpc() / ref.validationBpc()), q.getValue().tokensPerSecond(), q.getValue().seconds()));
      }
      out.append(String.format(Locale.ROOT, "%nEach model trained as `train --steps %d --batch %d --xla off` would (same data windows, "
          + "seed and validation batches); tokens/s of the whole run, evaluation and checkpoint included.%n", s.qualitySteps(), s.batch()));
    }
    return out.toString();
  }

  /**
   * Where each plain step's time goes: how many of its nodes ran at once over its span ({@link
   * NodeOverlap}); its parts (forward and backward apart) by the time their
   * nodes ran in the traced step and the matmul work they did in it (nodes run side by side, so a
   * part's rate is per node, not per step); its op types and parts' op types, the first {@link
   * #PROFILE_OP_TYPES}, as shares of all nodes' time; then what its forward pass keeps for the
   * backward one, by part of the model and op type.
   */
  public static String profile(CompareBenchmark.Figures f) {
    StringBuilder out = new StringBuilder();
    for (CompareBenchmark.Row r : f.rows()) {
      if (r.profile().isEmpty()) {
        continue;
      }
      long total = r.profile().values().stream().mapToLong(Long::longValue).sum();
      out.append(String.format(Locale.ROOT, "%n%s, plain step traced: %.0f ms of node time on %d cores%n%n",
          r.entry().name(), total / 1e3, Runtime.getRuntime().availableProcessors()));
      r.overlap().ifPresent(o -> {
        double[] shares = o.percents();
        out.append(String.format(Locale.ROOT, "Over the step's %.0f ms, no node ran for %.1f%% of the time, one node for %.1f%%,"
            + " two or more for %.1f%%.%n%n", o.spanMicros() / 1e3, shares[0], shares[1], shares[2]));
      });
      out.append(String.format(Locale.ROOT, "| part | node ms | share | matmul GFLOP | GFLOP per node second |%n|---|---|---|---|---|%n"));
      StepTrace.sumBy(r.profile(), StepTrace.Maker::part).entrySet().stream().filter(e -> e.getValue() >= total / 200).forEach(e -> {
        double gflop = 2e-9 * r.partMacs().getOrDefault(e.getKey(), 0L);
        out.append(String.format(Locale.ROOT, "| %s | %.1f | %.1f%% | %.2f | %s |%n", e.getKey(), e.getValue() / 1e3,
            100.0 * e.getValue() / total, gflop, gflop > 0 ? String.format(Locale.ROOT, "%.0f", gflop / (e.getValue() / 1e6)) : "-"));
      });
      out.append(String.format(Locale.ROOT, "%n| op type | ms | share | part: op type | ms | share |%n|---|---|---|---|---|---|%n"));
      List<Map.Entry<String, Long>> types = StepTrace.sumBy(r.profile(), StepTrace.Maker::opType).entrySet().asList();
      List<Map.Entry<StepTrace.Maker, Long>> makers = r.profile().entrySet().asList();
      for (int i = 0; i < Math.min(PROFILE_OP_TYPES, types.size()); i++) {
        Map.Entry<String, Long> t = types.get(i);
        out.append(String.format(Locale.ROOT, "| %s | %.1f | %.1f%% |", t.getKey(), t.getValue() / 1e3, 100.0 * t.getValue() / total));
        out.append(i < makers.size() ? String.format(Locale.ROOT, " %s | %.1f | %.1f%% |%n", makers.get(i).getKey(),
            makers.get(i).getValue() / 1e3, 100.0 * makers.get(i).getValue() / total) : "  |  |  |\n");
      }
      long kept = r.kept().values().stream().mapToLong(Long::longValue).sum();
      if (kept > 0) {
        out.append(String.format(Locale.ROOT, "%nKept by the forward pass for the backward one: %s in all (each buffer once); %s%n%n"
            + "| part: op type | kept | share |%n|---|---|---|%n", mb(kept), String.join(", ", StepTrace.sumBy(r.kept(), StepTrace.Maker::part)
                .entrySet().stream().map(e -> e.getKey() + " " + mb(e.getValue())).toList())));
        r.kept().entrySet().stream().limit(PROFILE_OP_TYPES).forEach(e -> out.append(String.format(Locale.ROOT, "| %s | %s | %.1f%% |%n",
            e.getKey(), mb(e.getValue()), 100.0 * e.getValue() / kept)));
      }
    }
    return out.toString();
  }

  /** The eager PyTorch reference beside each model's plain step: the issue-16 ratio, ours over PyTorch's. */
  private static String pytorch(CompareBenchmark.Figures f) {
    StringBuilder out = new StringBuilder();
    out.append("\n| model | parameters (= PyTorch's) | plain ms/step | PyTorch ms/step (min-max) | plain / PyTorch | PyTorch loss at init | PyTorch peak RSS |\n");
    out.append("|---|---|---|---|---|---|---|\n");
    for (Map.Entry<String, CompareBenchmark.PyTorchFigures> e : f.pytorch().entrySet()) {
      CompareBenchmark.PyTorchFigures p = e.getValue();
      CompareBenchmark.Row plain = f.row(e.getKey(), StepKind.PLAIN);
      out.append(String.format(Locale.ROOT, "| %s | %,d | %.1f | %.1f (%.1f-%.1f) | %s | %.3f | %s |%n", e.getKey(), p.parameters(),
          plain.millis().median(), p.millis().median(), p.millis().min(), p.millis().max(), ratio(plain.millis().median() / p.millis().median()),
          p.firstLoss(), mb(p.peakRssBytes())));
    }
    out.append(String.format(Locale.ROOT, "%nPyTorch: tools/src/main/python/pytorch_step.py, the same model (its parameter count checked equal to "
        + "the project's) and step (forward, backward, clip, AdamW) in eager PyTorch, float32, at torch's default threads; SwitchHead's "
        + "experts as one matmul per expert over the sorted (token, expert) pairs. One child process per model after each of the %d "
        + "repetitions, %d warm-up steps then %d timed, once this JVM is quiet; the median of the runs. Its peak RSS: the largest of its "
        + "processes' (VmHWM). While they ran this JVM used at most %.2f cores.%n",
        f.settings().repeats(), PyTorchStep.WARMUP_STEPS, f.settings().steps(),
        f.pytorch().values().stream().mapToDouble(CompareBenchmark.PyTorchFigures::jvmCores).max().orElse(0)));
    return out.toString();
  }

  private static String ratio(double x) {
    return String.format(Locale.ROOT, "%.2f", x);
  }

  private static String mb(long bytes) {
    return String.format(Locale.ROOT, "%,.1f MB", bytes / MB);
  }
}
