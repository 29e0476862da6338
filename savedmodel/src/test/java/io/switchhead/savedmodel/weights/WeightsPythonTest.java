package io.switchhead.savedmodel.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.switchhead.graph.config.ConfigJson;
import io.switchhead.graph.config.DenseAttentionConfig;
import io.switchhead.graph.config.DenseFeedForwardConfig;
import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Positional;
import io.switchhead.graph.config.SigmaMoeConfig;
import io.switchhead.graph.config.SwitchHeadConfig;
import io.switchhead.graph.data.Corpus;
import io.switchhead.graph.train.Checkpoints;
import io.switchhead.testing.Seeded;
import io.switchhead.testing.TestPython;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The files checked by outside tools: the {@code safetensors} package reads what an export writes,
 * and an import reads what it writes, each compared with the checkpoint as TensorFlow's own Python
 * reader sees it. The expected names, shapes and layouts are written out again here in Python, from
 * the config alone, so a slip in {@link WeightNames} does not check itself.
 */
class WeightsPythonTest {

  /** XL SwitchHead (E = 3) and the sigma-MoE. */
  private static final ModelConfig SWITCHALL_XL = new ModelConfig(256, 16, 2, 8, new SwitchHeadConfig(2, 3, 2, 8, Positional.XL, 0),
      new SigmaMoeConfig(4, 8, 2, 0, 1e-3), 0, 0.7);
  /** Dense XL attention with Transformer-XL's biases, dense feed-forward. */
  private static final ModelConfig DENSE_XL = new ModelConfig(256, 16, 1, 8, new DenseAttentionConfig(2, 6, Positional.XL),
      new DenseFeedForwardConfig(12), 0, 0.7);
  /** SwitchHead with one expert per head: the authors' dense v and o. H*dh = 24, D = 16. */
  private static final ModelConfig ONE_EXPERT = new ModelConfig(256, 16, 1, 8, new SwitchHeadConfig(3, 1, 1, 8, Positional.ROPE, 0),
      new DenseFeedForwardConfig(12), 0, 0.7);

  /** The scheme from the config, in Python: per file name, the checkpoint's variable, the layout and the file's shape. */
  private static final String EXPECTED = """
      import json, sys
      import numpy as np

      def expected(c):
          D, V, a, f = c["dModel"], c["vocabSize"], c["attention"], c["feedForward"]
          H, dh, xl = a["heads"], a["headDim"], a["positional"] == "XL"
          out = {"embedding.weight": ("embedding", "as", (V, D))}
          for i in range(c["layers"]):
              p, q = f"layers.{i}.", f"layers/{i}/"
              for norm in ("attention_norm", "ff_norm"):
                  for n in ("weight", "bias"):
                      out[p + norm + "." + n] = (q + norm + "/" + n, "as", (D,))
              at, ap = p + "attention.", q + "attention/"
              out[at + "q.weight"] = (ap + "q", "T", (H * dh, D))
              out[at + "k.weight"] = (ap + "k", "T", (H * dh, D))
              if xl:
                  out[at + "pos_to_pk"] = (ap + "pos_to_pk", "T", (H * dh, D))
              if a["type"] == "switchhead":
                  E = a["experts"]
                  if E > 1:
                      out[at + "v"] = (ap + "v", "as", (H * E, D, dh))
                      out[at + "o"] = (ap + "o", "as", (H * E, dh, D))
                      out[at + "sel_v"] = (ap + "sel_v", "as", (H * E, D))
                  else:
                      out[at + "v"] = (ap + "v", "rows", (H * dh, D))
                      out[at + "o"] = (ap + "o", "cols", (D, H * dh))
                  out[at + "sel_o"] = (ap + "sel_o", "as", (H * E, D))
              else:
                  out[at + "v.weight"] = (ap + "v", "T", (H * dh, D))
                  out[at + "o.weight"] = (ap + "o", "T", (D, H * dh))
                  if xl:
                      out[at + "u_bias"] = (ap + "u_bias", "as", (H, dh))
                      out[at + "v_bias"] = (ap + "v_bias", "as", (H, dh))
              ft, fp = p + "ff.", q + "ff/"
              if f["type"] == "sigma-moe":
                  E, G = f["experts"], f["expertSize"]
                  out[ft + "expert_sel"] = (fp + "sel", "as", (E, D))
                  out[ft + "keys"] = (fp + "keys", "as", (E, D, G))
                  out[ft + "values"] = (fp + "values", "as", (E, G, D))
              else:
                  F = f["hidden"]
                  out[ft + "linear1.weight"] = (fp + "w1", "T", (F, D))
                  out[ft + "linear1.bias"] = (fp + "b1", "as", (F,))
                  out[ft + "linear2.weight"] = (fp + "w2", "T", (D, F))
                  out[ft + "linear2.bias"] = (fp + "b2", "as", (D,))
          for n in ("weight", "bias"):
              out["final_norm." + n] = ("final_norm/" + n, "as", (D,))
          out["output.weight"] = ("output/w", "T", (V, D))
          out["output.bias"] = ("output/b", "as", (V,))
          return out

      def to_file(x, layout):
          if layout == "as":
              return x
          if layout == "T":
              return x.T
          if layout == "rows":  # [H, D, dh] -> [H, dh, D] -> [H*dh, D]
              return x.transpose(0, 2, 1).reshape(-1, x.shape[1])
          assert layout == "cols"  # [H, dh, D] -> [D, H, dh] -> [D, H*dh]
          return x.transpose(2, 0, 1).reshape(x.shape[2], -1)
      """;

  /** Args: triples of file, checkpoint variables prefix, config JSON. Compares bit for bit, prints a line per file. */
  private static final String CHECK = EXPECTED + """
      import tensorflow as tf
      from safetensors import safe_open
      from safetensors.numpy import load_file

      args = sys.argv[1:]
      for path, prefix, config in zip(args[0::3], args[1::3], args[2::3]):
          cfg = json.loads(config)
          exp = expected(cfg)
          tensors = load_file(path)
          assert sorted(tensors) == sorted(exp), (path, sorted(set(tensors) ^ set(exp)))
          reader = tf.train.load_checkpoint(prefix)
          for name, (variable, layout, shape) in exp.items():
              t = tensors[name]
              assert t.dtype == np.float32, (name, t.dtype)
              assert t.shape == shape, (name, t.shape, shape)
              want = np.ascontiguousarray(to_file(reader.get_tensor(variable), layout))
              assert np.array_equal(want.view(np.uint32), t.view(np.uint32)), name
          with safe_open(path, "np") as f:
              meta = f.metadata() or {}
          if "model" in meta:
              assert json.loads(meta["model"]) == cfg, meta["model"]
          print(f"{len(exp)} tensors, metadata {sorted(meta)}")
      """;

  /** Args: file, config JSON, seed. Random float32 tensors of the expected names and shapes, saved by the safetensors package. */
  private static final String WRITE = EXPECTED + """
      from safetensors.numpy import save_file

      path, cfg, seed = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
      rng = np.random.default_rng(seed)
      save_file({n: rng.standard_normal(s).astype(np.float32) for n, (_, _, s) in expected(cfg).items()}, path)
      """;

  @TempDir static Path dir;
  @Seeded private static Random corpusRandom;
  @Seeded private Random random;
  private static Corpus corpus;
  private static final List<String> exported = new ArrayList<>();

  @BeforeAll
  static void trainAndExport() {
    corpus = TrainedRuns.corpus(dir, corpusRandom);
    List<ModelConfig> models = List.of(SWITCHALL_XL, DENSE_XL, ONE_EXPERT);
    for (int i = 0; i < models.size(); i++) {
      Path run = TrainedRuns.train(models.get(i), corpus, dir.resolve("run-" + i), 1);
      Path file = dir.resolve("run-" + i + ".safetensors");
      WeightsExport.export(run, OptionalLong.empty(), file, false, warning -> {});
      String prefix = Checkpoints.latestVerified(run, warning -> {}).variablesPrefix();
      exported.addAll(List.of(file.toString(), prefix, ConfigJson.write(models.get(i))));
    }
  }

  @Test
  void theSafetensorsPackageReadsOurFilesAsTheCheckpointHoldsThem() {
    String out = TestPython.script(CHECK, 120, exported.toArray(new String[0])).requireSuccess();
    String metadata = "metadata ['checkpoint', 'model', 'step']";
    assertEquals(List.of("33 tensors, " + metadata, "20 tensors, " + metadata, "18 tensors, " + metadata), out.lines().toList());
  }

  @Test
  void weImportWhatTheSafetensorsPackageWrites() {
    List<String> checks = new ArrayList<>();
    for (ModelConfig model : List.of(SWITCHALL_XL, ONE_EXPERT)) {
      Path file = dir.resolve("python-" + checks.size() + ".safetensors");
      String config = ConfigJson.write(model);
      TestPython.script(WRITE, 60, file.toString(), config, Long.toString(random.nextLong() >>> 1)).requireSuccess();
      Path run = dir.resolve("python-run-" + checks.size());
      WeightsImport.importRun(file, Optional.of(model), TrainedRuns.TRAIN, corpus, run);
      checks.addAll(List.of(file.toString(), Checkpoints.latestVerified(run, warning -> {}).variablesPrefix(), config));
    }
    String out = TestPython.script(CHECK, 120, checks.toArray(new String[0])).requireSuccess();
    assertEquals(List.of("33 tensors, metadata []", "18 tensors, metadata []"), out.lines().toList());
  }
}
