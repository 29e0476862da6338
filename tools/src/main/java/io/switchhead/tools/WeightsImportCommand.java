package io.switchhead.tools;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Presets;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.train.TrainConfig;
import io.switchhead.savedmodel.weights.WeightsImport;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code switchhead weights import}: a safetensors file as a new run directory at step 0. */
@Command(name = "import", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Make a new run directory from a safetensors file.",
        "It is the run that train starts with these options, at step 0 with fresh Adam",
        "state, but with the file's parameters. Continue it with train --out NEW_RUN_DIR",
        "--resume; generate and export read it. Nothing is written if the file is",
        "malformed or its tensors are not the model's."})
final class WeightsImportCommand implements Callable<Integer> {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Parameters(index = "0", paramLabel = "IN.safetensors", description = "The weights, named as 'weights export' writes them.")
  Path in;

  @Parameters(index = "1", paramLabel = "NEW_RUN_DIR", description = "The run directory to make; must not exist.")
  Path runDir;

  @Option(names = "--preset", description = "The model the tensors are (default: the config the file's metadata records).")
  String preset;

  @Option(names = "--config", paramLabel = "FILE.json", description = "The model the tensors are, as a config file.")
  Path config;

  @Mixin TrainingOptions training;

  @Override
  public Integer call() {
    checkArgument(preset == null || config == null, "give the model by --preset or by --config, not both");
    Optional<ModelConfig> model = config != null ? Optional.of(ConfigJson.read(config))
        : preset != null ? Optional.of(Presets.get(preset)) : Optional.empty();
    // The cheap refusals first: the options, the directory, then the file, before any download of the default corpus.
    TrainConfig train = training.trainConfig();
    WeightsImport.requireNew(runDir);
    WeightsImport.Weights weights = WeightsImport.read(in, model);
    Corpus corpus = training.newRunCorpus();
    corpus.warnings().forEach(w -> spec.commandLine().getErr().println(spec.qualifiedName() + ": warning: " + w));
    WeightsImport.Imported imported = WeightsImport.write(weights, train, corpus, runDir);
    spec.commandLine().getOut().printf("imported %d tensors of %s into %s: a run at step 0 on %s with fresh Adam state; "
        + "train on with: switchhead train --out %s --resume%n", imported.tensors(), in, runDir, corpus.source(), runDir);
    return 0;
  }
}
