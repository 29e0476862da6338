package io.switchhead.tools.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading what {@code --xla_dump_to} wrote: which module is the training step, and its parameters. */
class HloDumpDirTest {

  private static final String HEADER = "HloModule train_step_abc__.7, alias_passthrough_params=true, entry_computation_layout="
      + "{(s32[2,16]{1,0}, s64[2]{0}, /*index=2*/f32[]{:T(128)}, f32[64,32]{1,0})->(f32[], f32[64,32]{1,0})}\n";

  @Test
  void theTrainingStepIsTheModuleNamedAfterItsSignatureKeyAndItsParametersAreReadInOrder(@TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("module_0000.cluster_3__XlaCompiledKernel_true.12.before_optimizations.txt"), "HloModule cluster_3\n");
    Files.writeString(dir.resolve("module_0001.train_step_abc__.7.before_optimizations.txt"), HEADER + "ENTRY ...\n");
    Files.writeString(dir.resolve("module_0001.train_step_abc__.7.cpu_after_optimizations.txt"), HEADER);
    Files.writeString(dir.resolve("module_0001.train_step_abc__.7.cpu_after_optimizations-buffer-assignment.txt"), "");
    Files.writeString(dir.resolve("module_0001.train_step_abc__.7.ir-with-opt.ll"), "");

    HloDumpDir dump = HloDumpDir.read(dir);
    HloDumpDir.Module step = dump.trainingStep();

    assertEquals("train_step_abc__", step.name());
    assertEquals("cpu_after_optimizations", step.optimizedStage());
    assertEquals(List.of("cluster_3__XlaCompiledKernel_true"), dump.others(step));
    assertEquals(List.of(new HloDumpDir.Parameter("s32", List.of(2L, 16L)), new HloDumpDir.Parameter("s64", List.of(2L)),
        new HloDumpDir.Parameter("f32", List.of()), new HloDumpDir.Parameter("f32", List.of(64L, 32L))), HloDumpDir.parameters(HEADER));
  }

  @Test
  void aDumpWithoutTheStepSaysWhatItHolds(@TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("module_0000.cluster_3.before_optimizations.txt"), "HloModule cluster_3\n");
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> HloDumpDir.read(dir).trainingStep());
    assertTrue(e.getMessage().contains("XLA dumped no train_step module into " + dir + " (modules: [cluster_3])"), e.getMessage());
    IllegalStateException empty = assertThrows(IllegalStateException.class, () -> HloDumpDir.read(dir.resolve("missing")).trainingStep());
    assertTrue(empty.getMessage().contains("(modules: [])"), empty.getMessage());
  }
}
