package io.switchhead.tools;

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
    subcommands = {TrainCommand.class, GenerateCommand.class, PresetsCommand.class, BenchCommand.class, InfoCommand.class, CommandLine.HelpCommand.class})
public final class SwitchHeadCommand implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new SwitchHeadCommand()).execute(args));
  }
}
