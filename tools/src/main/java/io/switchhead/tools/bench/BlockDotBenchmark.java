package io.switchhead.tools.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.tensorflow.Operand;
import org.tensorflow.Tensor;
import org.tensorflow.op.Ops;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.op.train.BatchMatMul;
import org.tensorflow.types.TFloat32;

/**
 * The three batched dots of the block-padded sorted matmul (forward, dx, dW^T), each against one
 * plain dot of the same FLOPs, as must-compile XLA functions, interleaved. It isolates what the
 * layout pays for running many small dots instead of one big one, apart from its gathers and
 * routing (docs/benchmarks/conditional-matmul.md, "The ceiling of batched dots under XLA").
 *
 * <p>Arguments, optional, key=value: blocks=160 block=128 dIn=512 dOut=128 warmups=2 repeats=9
 * seed=1 (of the random inputs).
 * The defaults are the M = 64 benchmark's: about 160 blocks of 128 rows after padding.
 */
public final class BlockDotBenchmark {

  private BlockDotBenchmark() {}

  /** Builds one timed dot from the inputs xb [blocks, B, dIn], dyb [blocks, B, dOut], wb, wtb. */
  @FunctionalInterface
  private interface Dot {
    Operand<TFloat32> build(Ops tf, Map<String, Operand<?>> in);
  }

  public static void main(String[] args) {
    Map<String, String> opts = BenchInputs.options(args, Set.of("blocks", "block", "dIn", "dOut", "warmups", "repeats", "seed"));
    int blocks = BenchInputs.intOption(opts, "blocks", 160);
    int b = BenchInputs.intOption(opts, "block", 128);
    int dIn = BenchInputs.intOption(opts, "dIn", 512);
    int dOut = BenchInputs.intOption(opts, "dOut", 128);
    int warmups = BenchInputs.intOption(opts, "warmups", 2);
    int repeats = BenchInputs.intOption(opts, "repeats", 9);
    int seed = BenchInputs.intOption(opts, "seed", BenchInputs.DEFAULT_SEED);
    int rows = blocks * b;

    Random random = new Random(seed);
    Map<String, Tensor> inputs = new LinkedHashMap<>();
    inputs.put("xb", BenchInputs.normal(random, blocks, b, dIn));
    inputs.put("dyb", BenchInputs.normal(random, blocks, b, dOut));
    inputs.put("wb", BenchInputs.normal(random, blocks, dIn, dOut));
    inputs.put("wtb", BenchInputs.normal(random, blocks, dOut, dIn));

    // Plain dots use block 0's weights for every row: the same FLOPs in one [rows, .] operand.
    Map<String, Dot> dots = new LinkedHashMap<>();
    dots.put("forward, batched  x_b W_b", (tf, in) -> tf.train.batchMatMul(f(in, "xb"), f(in, "wb"), TFloat32.class));
    dots.put("forward, plain    X W", (tf, in) -> tf.linalg.matMul(flat(tf, f(in, "xb"), rows), first(tf, f(in, "wb"))));
    dots.put("dx, batched       dy_b W_b^T", (tf, in) -> tf.train.batchMatMul(f(in, "dyb"), f(in, "wtb"), TFloat32.class));
    dots.put("dx, plain         dY W^T", (tf, in) -> tf.linalg.matMul(flat(tf, f(in, "dyb"), rows), first(tf, f(in, "wtb"))));
    dots.put("dW^T, batched     dy_b^T x_b", (tf, in) -> tf.train.batchMatMul(f(in, "dyb"), f(in, "xb"), TFloat32.class, BatchMatMul.adjX(true)));
    dots.put("dW^T, plain       dY^T X", (tf, in) -> tf.linalg.matMul(flat(tf, f(in, "dyb"), rows), flat(tf, f(in, "xb"), rows), MatMul.transposeA(true)));

    System.out.printf(Locale.ROOT, "%d blocks of %d rows, dIn=%d dOut=%d, XLA (XLA_FLAGS=%s), %d rounds, %d cores, seed %d%n",
        blocks, b, dIn, dOut, System.getenv("XLA_FLAGS"), repeats, Runtime.getRuntime().availableProcessors(), seed);
    try (BenchCase.Shared shared = new BenchCase.Shared()) {
      List<String> names = new ArrayList<>(dots.keySet());
      List<BenchCase> cases = new ArrayList<>();
      for (String name : names) {
        cases.add(new BenchCase(shared, inputs, (tf, in) -> Map.of("y", dots.get(name).build(tf, in)), true));
      }
      List<List<Double>> millis = new ArrayList<>();
      for (BenchCase c : cases) {
        for (int i = 0; i < warmups; i++) {
          c.runMillis();
        }
        millis.add(new ArrayList<>());
      }
      for (int round = 0; round < repeats; round++) {
        for (int c = 0; c < cases.size(); c++) {
          millis.get(c).add(cases.get(c).runMillis());
        }
      }
      double gflop = 2.0 * rows * dIn * dOut / 1e9;
      for (int c = 0; c < cases.size(); c++) {
        double median = BenchCase.median(millis.get(c));
        System.out.printf(Locale.ROOT, "%-30s %7.2f ms  %5.0f GFLOP/s%n", names.get(c), median, gflop / median * 1e3);
      }
      cases.forEach(BenchCase::close);
    } finally {
      inputs.values().forEach(Tensor::close);
    }
  }

  @SuppressWarnings("unchecked")
  private static Operand<TFloat32> f(Map<String, Operand<?>> in, String name) {
    return (Operand<TFloat32>) in.get(name);
  }

  /** [blocks, B, d] as [blocks*B, d]. */
  private static Operand<TFloat32> flat(Ops tf, Operand<TFloat32> blocked, int rows) {
    return tf.reshape(blocked, tf.constant(new int[] {rows, -1}));
  }

  /** The first of a stack of matrices. */
  private static Operand<TFloat32> first(Ops tf, Operand<TFloat32> stack) {
    return tf.gather(stack, tf.constant(0), tf.constant(0));
  }
}
