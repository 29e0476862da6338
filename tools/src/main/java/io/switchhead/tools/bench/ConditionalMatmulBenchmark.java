package io.switchhead.tools.bench;

import static com.google.common.base.Preconditions.checkArgument;

import io.switchhead.ops.GraphOps;
import io.switchhead.ops.Tensors;
import io.switchhead.ops.gradients.Gradients;
import io.switchhead.ops.moe.BlockLayout;
import io.switchhead.ops.moe.CapacityConditionalMatmul;
import io.switchhead.ops.moe.ConditionalMatmul;
import io.switchhead.ops.moe.DenseConditionalMatmul;
import io.switchhead.ops.moe.MatmulShapes;
import io.switchhead.ops.moe.SegmentedConditionalMatmul;
import io.switchhead.ops.moe.SpillConditionalMatmul;
import io.switchhead.ops.moe.SortedConditionalMatmul;
import io.switchhead.ops.moe.XlaConditionalMatmul;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Forward + backward (gradients for x and w) of the sorted and the dense conditional matmul, each in
 * the plain graph and as one must-compile XLA function, side by side with a plain matmul of the same
 * useful FLOPs ([N*k, dIn] x [dIn, dOut], forward and both gradients). Not a test: run it by hand
 * (see docs/benchmarks/conditional-matmul.md) and write the table down.
 *
 * <p>The machine is shared, so cases are interleaved: for each M every case is built and warmed up,
 * then each round runs every case once; the table gives per-case medians over the rounds, and the
 * rates are relative to the plain matmul measured in the same rounds.
 *
 * <p>Arguments, all optional, as key=value: experts=4,8,16,32,64  rows=8192  dIn=512  dOut=128  k=2
 * blocks=B1,B2 (block sizes to time; default: the one {@link BlockLayout#defaultBlockSize} picks)
 * capacity=F1,F2 (also time {@link CapacityConditionalMatmul} with these capacity factors; default none)
 * spill=auto|none|F/B/G,... (under XLA, time {@link SpillConditionalMatmul}: auto where {@link
 * XlaConditionalMatmul} picks it, or with these capacity factors, spill block sizes and blocks per
 * loop iteration)  zipf=0 (expert e drawn with probability proportional to (e+1)^-zipf; 0 is
 * uniform)
 * groupRows=R (rows per loop iteration of the sorted matmul, rounded down to whole blocks; default:
 * {@link BlockLayout}'s)
 * warmups=2  repeats=7  dense=true  modes=graph,xla (which modes to time)  times=false (true also
 * prints every case's time in every round: the machine's slow states show as runs of slow rounds)
 * profile=none|types|nodes (op times of one traced run of each plain-graph sorted or segmented case)
 * grads=x,w (which gradients to build; "x", "w" or "" time the parts)
 * seed=1 (of the random inputs and routing: a run can be repeated on the same data).
 *
 * <p>XLA on the CPU: TensorFlow 2.18 defaults to XLA's thunk runtime; {@code
 * XLA_FLAGS=--xla_cpu_use_thunk_runtime=false} selects the older one. The output says which ran.
 */
public final class ConditionalMatmulBenchmark {

  private static final Set<String> OPTIONS =
      Set.of("experts", "rows", "dIn", "dOut", "k", "blocks", "capacity", "groupRows", "warmups", "repeats", "dense", "modes", "times", "profile",
          "grads", "spill", "zipf", "seed");

  private ConditionalMatmulBenchmark() {}

  /** A named case and its times. */
  private record Timed(String name, BenchCase bench, List<Double> millis) {
    double median() {
      return BenchCase.median(millis);
    }
  }

  public static void main(String[] args) {
    Map<String, String> opts = BenchInputs.options(args, OPTIONS);
    int rows = BenchInputs.intOption(opts, "rows", 8192);
    int dIn = BenchInputs.intOption(opts, "dIn", 512);
    int dOut = BenchInputs.intOption(opts, "dOut", 128);
    int k = BenchInputs.intOption(opts, "k", 2);
    int warmups = BenchInputs.intOption(opts, "warmups", 2);
    int repeats = BenchInputs.intOption(opts, "repeats", 7);
    boolean withDense = BenchInputs.booleanOption(opts, "dense", true);
    String profile = opts.getOrDefault("profile", "none");
    checkArgument(List.of("none", "types", "nodes").contains(profile), "profile= takes none, types or nodes, got %s", profile);
    String gradsOf = opts.getOrDefault("grads", "x,w");
    List<Integer> expertCounts = ints(opts, "experts", "4,8,16,32,64");
    List<Integer> blocks = ints(opts, "blocks", "");
    List<Double> capacityFactors = doubles(opts, "capacity", "");
    int groupRows = BenchInputs.intOption(opts, "groupRows", 0);
    String spillOption = opts.getOrDefault("spill", "auto");
    List<Double> zipfs = doubles(opts, "zipf", "0");
    checkArgument(zipfs.size() == 1 && zipfs.get(0) >= 0, "zipf= takes one exponent >= 0, got %s", zipfs);
    double zipf = zipfs.get(0);
    List<SpillConditionalMatmul> spillsGiven = spillLayouts(spillOption);
    List<String> modes = new ArrayList<>();
    for (String mode : opts.getOrDefault("modes", "graph,xla").split(",")) {
      checkArgument(mode.equals("graph") || mode.equals("xla"), "modes= takes graph and/or xla, got %s", mode);
      modes.add(mode.equals("xla") ? "XLA" : "graph");
    }
    boolean showTimes = BenchInputs.booleanOption(opts, "times", false);
    int seed = BenchInputs.intOption(opts, "seed", BenchInputs.DEFAULT_SEED);

    double gflop = 3.0 * 2.0 * rows * k * dIn * dOut / 1e9;
    String xlaFlags = System.getenv("XLA_FLAGS");
    System.out.printf(Locale.ROOT, "N=%d dIn=%d dOut=%d k=%d: useful work 3 x 2*N*k*dIn*dOut = %.2f GFLOP per step; ids %s; seed %d%n",
        rows, dIn, dOut, k, gflop, zipf == 0 ? "uniform" : "zipf " + zipf, seed);
    System.out.printf(Locale.ROOT, "medians of %d interleaved rounds after %d warm-ups; %d cores; XLA CPU runtime: %s; gradients of %s%n",
        repeats, warmups, Runtime.getRuntime().availableProcessors(),
        xlaFlags != null && xlaFlags.contains("--xla_cpu_use_thunk_runtime=false") ? "legacy (thunk off)" : "thunk (default)",
        gradsOf.isEmpty() ? "nothing (forward only)" : gradsOf);
    System.out.println();
    System.out.println("| M | B | mode | plain matmul | dense | sorted | dense/sorted | sorted GFLOP/s | plain GFLOP/s | sorted/plain rate |");
    System.out.println("|---|---|---|---|---|---|---|---|---|---|");

    Random random = new Random(seed);
    for (int m : expertCounts) {
      MatmulShapes shapes = new MatmulShapes(rows, dIn, dOut, m, k);
      List<Integer> bs = blocks.isEmpty() ? List.of(BlockLayout.defaultBlockSize(shapes)) : blocks;
      List<SpillConditionalMatmul> spills =
          !spillOption.equals("auto")
              ? spillsGiven
              : XlaConditionalMatmul.layoutFor(shapes) instanceof SpillConditionalMatmul spill ? List.of(spill) : List.of();
      Map<String, Tensor> moeInputs = new LinkedHashMap<>();
      moeInputs.put("x", BenchInputs.normal(random, rows, dIn));
      moeInputs.put("w", BenchInputs.normal(random, m, dIn, dOut));
      int[] routing = routedIds(random, rows * k, m, zipf);
      moeInputs.put("ids", Tensors.ints(Shape.of(rows, k), routing));
      moeInputs.put("gates", uniform(random, rows, k));
      moeInputs.put("r", BenchInputs.normal(random, rows, dOut));
      Map<String, Tensor> plainInputs = new LinkedHashMap<>();
      plainInputs.put("x", BenchInputs.normal(random, rows * k, dIn));
      plainInputs.put("w", BenchInputs.normal(random, dIn, dOut));
      plainInputs.put("r", BenchInputs.normal(random, rows * k, dOut));

      List<Timed> cases = new ArrayList<>();
      BenchCase.Shared shared = new BenchCase.Shared();
      for (String mode : modes) {
        boolean xla = mode.equals("XLA");
        cases.add(new Timed("plain " + mode, new BenchCase(shared, plainInputs, (tf, in) -> plainStep(tf, in, gradsOf), xla), new ArrayList<>()));
        for (int b : bs) {
          ConditionalMatmul sorted =
              groupRows > 0 ? SortedConditionalMatmul.withBlocks(b, Math.max(1, groupRows / b)) : SortedConditionalMatmul.withBlockSize(b);
          cases.add(new Timed("sorted " + b + " " + mode, new BenchCase(shared, moeInputs, (tf, in) -> moeStep(tf, sorted, in, gradsOf), xla), new ArrayList<>()));
        }
        if (!xla) {
          // Segment sizes are data: the plain graph only.
          cases.add(new Timed("segmented graph", new BenchCase(shared, moeInputs, (tf, in) -> moeStep(tf, new SegmentedConditionalMatmul(), in, gradsOf), false),
              new ArrayList<>()));
          cases.add(new Timed("segmented unaligned graph",
              new BenchCase(shared, moeInputs, (tf, in) -> moeStep(tf, SegmentedConditionalMatmul.unaligned(), in, gradsOf), false), new ArrayList<>()));
        }
        for (double f : capacityFactors) {
          cases.add(new Timed("capacity " + f + " " + mode,
              new BenchCase(shared, moeInputs, (tf, in) -> moeStep(tf, new CapacityConditionalMatmul(f), in, gradsOf), xla), new ArrayList<>()));
        }
        if (xla) {
          // The spill layout serves XLA; in the plain graph its loop's buffers are copied every iteration.
          for (SpillConditionalMatmul spill : spills) {
            cases.add(new Timed(spillName(spill), new BenchCase(shared, moeInputs, (tf, in) -> moeStep(tf, spill, in, gradsOf), true), new ArrayList<>()));
          }
        }
        if (withDense) {
          cases.add(new Timed("dense " + mode, new BenchCase(shared, moeInputs, (tf, in) -> moeStep(tf, new DenseConditionalMatmul(), in, gradsOf), xla),
              new ArrayList<>()));
        }
      }
      try {
        for (Timed c : cases) {
          for (int i = 0; i < warmups; i++) {
            c.bench().runMillis();
          }
        }
        for (int round = 0; round < repeats; round++) {
          for (Timed c : cases) {
            c.millis().add(c.bench().runMillis());
          }
        }
        if (showTimes) {
          for (Timed c : cases) {
            System.out.printf(Locale.ROOT, "  M=%d %s, ms per round: %s%n", m, c.name(), c.millis().stream().map(t -> String.format(Locale.ROOT, "%.1f", t)).toList());
          }
        }
        if (!profile.equals("none")) {
          for (Timed c : cases) {
            if ((c.name().startsWith("sorted") || c.name().startsWith("segmented")) && c.name().endsWith("graph")) {
              System.out.println("  " + c.name() + " M=" + m + " op time (us): " + top(c.bench().profile(profile.equals("nodes")), 30));
            }
          }
        }
        for (String mode : modes) {
          double plain = find(cases, "plain " + mode).median();
          double dense = withDense ? find(cases, "dense " + mode).median() : Double.NaN;
          for (int b : bs) {
            double sorted = find(cases, "sorted " + b + " " + mode).median();
            printRow(m, Integer.toString(b), mode, plain, dense, sorted, gflop);
          }
          if (mode.equals("graph")) {
            double segmented = find(cases, "segmented graph").median();
            printRow(m, "-", "graph, segmented", plain, dense, segmented, gflop);
            printRow(m, "-", "graph, segmented unaligned", plain, dense, find(cases, "segmented unaligned graph").median(), gflop);
          }
          for (double f : capacityFactors) {
            printRow(m, "C=" + new CapacityConditionalMatmul(f).capacity(shapes), mode + ", capacity " + f, plain, dense,
                find(cases, "capacity " + f + " " + mode).median(), gflop);
          }
          if (mode.equals("XLA")) {
            for (SpillConditionalMatmul spill : spills) {
              printRow(m, "C=" + spill.capacity(shapes) + ", B=" + spill.spillBlockSize(), "XLA, spill " + spillLabel(spill), plain, dense,
                  find(cases, spillName(spill)).median(), gflop);
            }
          }
        }
        for (double f : capacityFactors) {
          CapacityConditionalMatmul capacity = new CapacityConditionalMatmul(f);
          int dropped = countPairs((TInt32) moeInputs.get("ids"), (tf, ids) -> capacity.droppedPairs(tf, ids, m));
          System.out.printf(Locale.ROOT, "  M=%d capacity %s: C = %d, %d of %d pairs dropped (%.2f%%)%n",
              m, f, capacity.capacity(shapes), dropped, shapes.pairs(), 100.0 * dropped / shapes.pairs());
        }
        for (SpillConditionalMatmul spill : modes.contains("XLA") ? spills : List.<SpillConditionalMatmul>of()) {
          int spilled = countPairs((TInt32) moeInputs.get("ids"), (tf, ids) -> spill.spilledPairs(tf, ids, m));
          System.out.printf(Locale.ROOT, "  M=%d spill %s: C = %d, %d of %d pairs spilled (%.2f%%)%n",
              m, spillLabel(spill), spill.capacity(shapes), spilled, shapes.pairs(), 100.0 * spilled / shapes.pairs());
        }
        int[] load = new int[m];
        Arrays.stream(routing).forEach(e -> load[e]++);
        System.out.printf(Locale.ROOT, "  M=%d: the busiest expert has %.2fx the mean load%n", m,
            Arrays.stream(load).max().orElseThrow() * (double) m / routing.length);
        System.out.printf(Locale.ROOT, "  M=%d: XLA steps use the %s layout%n", m,
            XlaConditionalMatmul.layoutFor(shapes) instanceof SpillConditionalMatmul spill ? "spill " + spillLabel(spill) : "block-padded");
      } finally {
        cases.forEach(c -> c.bench().close());
        shared.close();
        moeInputs.values().forEach(Tensor::close);
        plainInputs.values().forEach(Tensor::close);
      }
    }
  }

  /**
   * The spill layouts given as factor/block/groupBlocks triples, e.g. 1.05/32/16,1.0/16/32; none
   * for "none", and for "auto", which times the one {@link XlaConditionalMatmul} picks, where it
   * picks one.
   */
  private static List<SpillConditionalMatmul> spillLayouts(String option) {
    if (option.equals("none") || option.equals("auto")) {
      return List.of();
    }
    List<SpillConditionalMatmul> spills = new ArrayList<>();
    for (String triple : option.split(",")) {
      String[] f = triple.split("/");
      checkArgument(f.length == 3, "spill= takes auto, none or factor/block/groupBlocks triples such as 1.05/32/16, got %s", triple);
      try {
        spills.add(new SpillConditionalMatmul(Double.parseDouble(f[0]), Integer.parseInt(f[1]), Integer.parseInt(f[2])));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("spill= " + triple + ": not factor/block/groupBlocks numbers", e);
      }
    }
    return spills;
  }

  private static String spillLabel(SpillConditionalMatmul spill) {
    return spill.bulk().capacityFactor() + "/" + spill.spillBlockSize() + "/" + spill.spillGroupBlocks();
  }

  private static String spillName(SpillConditionalMatmul spill) {
    return "spill " + spillLabel(spill) + " XLA";
  }

  /** One table row; "-" in the dense columns when dense was not timed. */
  private static void printRow(int m, String block, String mode, double plain, double dense, double time, double gflop) {
    String denseTime = Double.isNaN(dense) ? "-" : String.format(Locale.ROOT, "%.0f ms", dense);
    String denseRatio = Double.isNaN(dense) ? "-" : String.format(Locale.ROOT, "%.2f", dense / time);
    System.out.printf(Locale.ROOT, "| %d | %s | %s | %.1f ms | %s | %.1f ms | %s | %.0f | %.0f | %.2f |%n",
        m, block, mode, plain, denseTime, time, denseRatio, gflop / time * 1e3, gflop / plain * 1e3, plain / time);
  }

  private static Timed find(List<Timed> cases, String name) {
    return cases.stream().filter(c -> c.name().equals(name)).findFirst().orElseThrow();
  }

  /** y = x w, loss = sum(y * r); gradients for x and w. */
  @SuppressWarnings("unchecked")
  private static Map<String, Operand<?>> plainStep(Ops tf, Map<String, Operand<?>> in, String gradsOf) {
    Operand<TFloat32> x = (Operand<TFloat32>) in.get("x");
    Operand<TFloat32> w = (Operand<TFloat32>) in.get("w");
    return lossAndGrads(tf, tf.linalg.matMul(x, w), (Operand<TFloat32>) in.get("r"), x, w, gradsOf);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Operand<?>> moeStep(Ops tf, ConditionalMatmul impl, Map<String, Operand<?>> in, String gradsOf) {
    Operand<TFloat32> x = (Operand<TFloat32>) in.get("x");
    Operand<TFloat32> w = (Operand<TFloat32>) in.get("w");
    Operand<TFloat32> y = impl.apply(tf, x, w, (Operand<TInt32>) in.get("ids"), (Operand<TFloat32>) in.get("gates"));
    return lossAndGrads(tf, y, (Operand<TFloat32>) in.get("r"), x, w, gradsOf);
  }

  private static Map<String, Operand<?>> lossAndGrads(
      Ops tf, Operand<TFloat32> y, Operand<TFloat32> r, Operand<TFloat32> x, Operand<TFloat32> w, String gradsOf) {
    Operand<TFloat32> loss = tf.reduceSum(tf.math.mul(y, r), tf.constant(new int[] {0, 1}));
    Map<String, Operand<?>> wrt = new LinkedHashMap<>();
    if (gradsOf.contains("x")) {
      wrt.put("dx", x);
    }
    if (gradsOf.contains("w")) {
      wrt.put("dw", w);
    }
    Map<String, Operand<?>> out = new LinkedHashMap<>();
    out.put("loss", loss);
    if (!wrt.isEmpty()) {
      // One gradient call, as a training step makes it.
      List<Operand<?>> grads = Gradients.of(tf, loss, List.copyOf(wrt.values()));
      int i = 0;
      for (String name : wrt.keySet()) {
        out.put(name, grads.get(i++));
      }
    }
    return out;
  }

  /** A scalar count over {@code ids} (pairs dropped, pairs spilled), built by {@code count} and run. */
  private static int countPairs(TInt32 ids, BiFunction<Ops, Operand<TInt32>, Operand<TInt32>> count) {
    try (Graph g = new Graph();
        Session session = new Session(g)) {
      Ops tf = GraphOps.create(g);
      try (Result r = session.runner().fetch(count.apply(tf, tf.constant(ids))).run()) {
        return ((TInt32) r.get(0)).getInt();
      }
    }
  }


  /** A comma-separated list of ints, or an empty list for an empty value. */
  private static List<Integer> ints(Map<String, String> opts, String key, String orElse) {
    return list(opts, key, orElse, Integer::parseInt, "integers");
  }

  /** A comma-separated list of numbers, or an empty list for an empty value. */
  private static List<Double> doubles(Map<String, String> opts, String key, String orElse) {
    return list(opts, key, orElse, Double::parseDouble, "numbers");
  }

  private static <V> List<V> list(Map<String, String> opts, String key, String orElse, Function<String, V> parse, String what) {
    String csv = opts.getOrDefault(key, orElse).trim();
    List<V> out = new ArrayList<>();
    for (String v : csv.isEmpty() ? new String[0] : csv.split("\\s*,\\s*")) {
      try {
        out.add(parse.apply(v));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(key + "= takes " + what + " separated by commas, got " + csv, e);
      }
    }
    return out;
  }

  private static String top(Map<String, Long> micros, int n) {
    StringBuilder sb = new StringBuilder();
    micros.entrySet().stream().limit(n).forEach(e -> sb.append(e.getKey()).append('=').append(e.getValue()).append(' '));
    return sb.toString();
  }

  /** Gates in [0.1, 1), like sigmoid outputs. */
  private static TFloat32 uniform(Random random, long... dims) {
    Shape shape = Shape.of(dims);
    float[] v = new float[Math.toIntExact(shape.size())];
    for (int i = 0; i < v.length; i++) {
      v[i] = 0.1f + 0.9f * random.nextFloat();
    }
    return Tensors.floats(shape, v);
  }

  /**
   * Expert ids for the N*k (row, slot) pairs, drawn independently: expert e with probability proportional
   * to (e+1)^-zipf, so 0 is uniform and larger exponents load the low experts more (at M = 64,
   * zipf 0.5 gives expert 0 about 4.4x the mean load).
   */
  private static int[] routedIds(Random random, int pairs, int experts, double zipf) {
    double[] cumulative = new double[experts];
    double total = 0;
    for (int e = 0; e < experts; e++) {
      total += Math.pow(e + 1, -zipf);
      cumulative[e] = total;
    }
    int[] v = new int[pairs];
    for (int i = 0; i < v.length; i++) {
      int e = Arrays.binarySearch(cumulative, random.nextDouble() * total);
      v[i] = Math.min(e >= 0 ? e : -e - 1, experts - 1);
    }
    return v;
  }
}
