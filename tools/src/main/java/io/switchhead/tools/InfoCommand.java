package io.switchhead.tools;

import io.switchhead.ops.xla.SessionOptions;
import java.io.PrintWriter;
import org.tensorflow.TensorFlow;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** What this installation runs on: TensorFlow, its devices, and whether XLA can auto-cluster on CPU. */
@Command(name = "info", description = "Print the TensorFlow version, Java version and XLA settings.")
final class InfoCommand implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    PrintWriter out = spec.commandLine().getOut();
    out.printf("switchhead %s%n", Version.projectVersion());
    out.printf("TensorFlow %s (TensorFlow Java 1.1.0)%n", TensorFlow.version());
    out.printf("Java %s (%s)%n", System.getProperty("java.version"), System.getProperty("java.vm.name"));
    out.printf("XLA must-compile functions: %s%n", XlaProbe.run());
    out.printf(
        "XLA CPU auto-clustering: %s%n",
        SessionOptions.cpuAutoClusteringEnabled()
            ? "enabled (" + SessionOptions.XLA_FLAGS_ENV + " has " + SessionOptions.CPU_GLOBAL_JIT_FLAG + ")"
            : "disabled (start with " + SessionOptions.XLA_FLAGS_ENV + "=" + SessionOptions.CPU_GLOBAL_JIT_FLAG
                + "; the ./switchhead launcher sets it)");
    out.flush();
  }

  /** The version line of {@code --version}. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"switchhead " + projectVersion()};
    }

    static String projectVersion() {
      String v = Version.class.getPackage().getImplementationVersion();
      return v != null ? v : "development build";
    }
  }
}
