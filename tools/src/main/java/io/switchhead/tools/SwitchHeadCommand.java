package io.switchhead.tools;

import java.io.UncheckedIOException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code switchhead} command line: a thin map from subcommands onto library calls. With no
 * subcommand it prints the help.
 */
@Command(
    name = "switchhead",
    mixinStandardHelpOptions = true,
    versionProvider = InfoCommand.Version.class,
    description = "Train, export and inspect SwitchHead (Mixture-of-Experts attention) models on TensorFlow Java.",
    subcommands = {TrainCommand.class, GenerateCommand.class, ExportCommand.class, WeightsCommand.class, PresetsCommand.class, InspectCommand.class, BenchCommand.class, InfoCommand.class, CommandLine.HelpCommand.class})
public final class SwitchHeadCommand implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  /**
   * Read by the {@code ./switchhead} launcher, not here: TensorFlow's native library writes its log
   * lines straight to the process's stderr, and only the launcher, which starts the JVM, can pass or
   * drop them. Declared so that it is accepted before or after any subcommand and listed in help.
   */
  @CommandLine.Option(
      names = "--verbose",
      scope = CommandLine.ScopeType.INHERIT,
      description = "Show TensorFlow's native log lines (info and warnings), which the ./switchhead launcher hides by default.")
  boolean verbose;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  public static void main(String[] args) {
    CommandLine cl = commandLine();
    int code = cl.execute(args);
    cl.getErr().flush();
    LogFilter.drainBeforeExit();
    System.exit(code);
  }

  /**
   * The command line as {@link #main} runs it. Bad input (an IllegalArgumentException, whose message
   * names the option, preset or file) is reported as one line on stderr with the usage exit code,
   * and an UncheckedIOException (whose message names the file) as one line with exit code 1, not
   * as stack traces; anything else keeps picocli's default report.
   */
  static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new SwitchHeadCommand());
    CommandLine.IExecutionExceptionHandler defaultHandler = cl.getExecutionExceptionHandler();
    cl.setExecutionExceptionHandler(
        (e, failed, parsed) -> {
          String name = failed.getCommandSpec().qualifiedName();
          if (e instanceof IllegalArgumentException) {
            failed.getErr().println(name + ": " + e.getMessage());
            return failed.getCommandSpec().exitCodeOnInvalidInput();
          }
          if (e instanceof UncheckedIOException io) {
            // Our I/O errors name the file; the cause says what the system said (no such file, ...).
            failed.getErr().println(name + ": " + io.getMessage() + " (" + io.getCause() + ")");
            return failed.getCommandSpec().exitCodeOnExecutionException();
          }
          return defaultHandler.handleExecutionException(e, failed, parsed);
        });
    return cl;
  }
}
