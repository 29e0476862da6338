package io.switchhead.tools;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code switchhead weights}: a run's parameters to and from safetensors files, for PyTorch. With no subcommand it prints the help. */
@Command(name = "weights", mixinStandardHelpOptions = true,
    description = {"Weights to and from PyTorch as safetensors files: the SwitchHead authors'",
        "parameter names and shapes for attention, the README's table for the rest."},
    subcommands = {WeightsExportCommand.class, WeightsImportCommand.class})
final class WeightsCommand implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }
}
