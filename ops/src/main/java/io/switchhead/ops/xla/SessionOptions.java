package io.switchhead.ops.xla;

import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GraphOptions;
import org.tensorflow.proto.OptimizerOptions;
import org.tensorflow.proto.RewriterConfig;

/** Session configurations: plain, or with XLA auto-clustering. */
public final class SessionOptions {

  /** The environment variable TensorFlow reads, once when the native library loads. */
  public static final String XLA_FLAGS_ENV = "TF_XLA_FLAGS";

  /** Its value that lets auto-clustering compile for the CPU. */
  public static final String CPU_GLOBAL_JIT_FLAG = "--tf_xla_cpu_global_jit";

  private SessionOptions() {}

  /**
   * The default session: no auto-clustering, threads as TensorFlow chooses, and grappler's constant
   * folding off (its other passes still run). Folding a training graph's constants leaves the
   * process holding what it folded for the session's life (a quarter of a 47M run's peak), for no
   * change in the loss (docs/benchmarks/compare.md, "Start-up memory").
   */
  public static ConfigProto plain() {
    return ConfigProto.newBuilder()
        .setGraphOptions(
            GraphOptions.newBuilder()
                .setRewriteOptions(RewriterConfig.newBuilder().setConstantFolding(RewriterConfig.Toggle.OFF)))
        .build();
  }

  /**
   * Session-wide auto-clustering (global_jit_level ON_1). On GPU it clusters by default; on CPU it
   * does nothing unless the process started with {@code TF_XLA_FLAGS=--tf_xla_cpu_global_jit}
   * (see {@link #cpuAutoClusteringEnabled()}), which the {@code switchhead} launcher sets.
   */
  public static ConfigProto autoClustering() {
    return ConfigProto.newBuilder()
        .setGraphOptions(
            GraphOptions.newBuilder()
                .setOptimizerOptions(
                    OptimizerOptions.newBuilder()
                        .setGlobalJitLevel(OptimizerOptions.GlobalJitLevel.ON_1)))
        .build();
  }

  /** True if this process's environment lets auto-clustering work on the CPU. */
  public static boolean cpuAutoClusteringEnabled() {
    String flags = System.getenv(XLA_FLAGS_ENV);
    return flags != null && flags.contains(CPU_GLOBAL_JIT_FLAG);
  }
}
