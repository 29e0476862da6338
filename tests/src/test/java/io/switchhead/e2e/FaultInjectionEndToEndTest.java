package io.switchhead.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.switchhead.graph.train.Checkpoints;
import io.switchhead.testing.Seeded;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fault injection: {@value #KILLS} SIGKILLs of a training child JVM at random moments (start-up,
 * steps, evaluations, saves), each followed by {@code --resume}. Every validation a run prints,
 * before a kill or after a resume, and the last one, equal the uninterrupted run's; no kill leaves
 * a directory that a resume cannot continue from.
 *
 * <p>The kills are dealt to {@value #CHAINS} chains of runs in their own directories, each chain
 * one child at a time with its own random moments (drawn from the test's seed), the chains side by
 * side: a child spends most of its life starting up, on one core, so two cores take two at once.
 * The uninterrupted run goes alongside the first chain; what the children printed is compared with
 * it once it has ended. The children's JIT stops at C1 ({@link Launcher#startC1}), which saves a
 * quarter of each start-up's CPU time.
 */
class FaultInjectionEndToEndTest {

  private static final int KILLS = 20;
  private static final int CHAINS = 2;
  private static final int STEPS = 100;
  private static final int EVERY = 4;
  /** Printed once the graph is built and what killed saves left is swept, before the first step. */
  private static final Pattern STARTED = Pattern.compile("(?:training|resuming) from step .*");
  private static final Pattern EVALUATION = Pattern.compile("step (\\d+): train loss [0-9.]+, validation ([0-9.]+) bpc.*");
  private static final Pattern END = Pattern.compile("(?:done: .*|the run in .* is finished: .*) \\(?validation ([0-9.]+) bpc.*");
  /** What a resume says when the run was killed before its first checkpoint: it is started again. */
  private static final String NOTHING_SAVED = "(none was saved there yet)";

  @TempDir Path dir;
  @Seeded private Random random;
  private Path config;
  private Path data;

  /** Where a kill hit. */
  private enum Hit { START_UP, STEPS, SAVE }

  /** What one chain did: its counts, and the output of each child that printed validations, to compare. */
  private static final class Chain {
    final Map<Hit, Integer> hits = new EnumMap<>(Hit.class);
    final List<String> printed = new ArrayList<>();
    /** The last line of each completed run. */
    final List<String> ends = new ArrayList<>();
    int kills;
    int restarts;
  }

  @Test
  void killedAtRandomMomentsAndResumedEachTimeARunEndsAsTheUninterruptedOne() throws Exception {
    long started = System.nanoTime();
    config = TinyRun.config(dir);
    data = TinyRun.corpus(dir, random);
    List<Random> randoms = new ArrayList<>();
    for (int c = 0; c < CHAINS; c++) {
      randoms.add(new Random(random.nextLong()));
    }
    ExecutorService pool = Executors.newFixedThreadPool(CHAINS);
    List<Chain> chains = new ArrayList<>();
    Map<Integer, String> expected;
    try {
      // The first chain starts with the uninterrupted run; the others once it has ended.
      List<Future<Chain>> running = new ArrayList<>();
      running.add(pool.submit(() -> chain("a", KILLS / CHAINS + KILLS % CHAINS, randoms.get(0))));
      Future<Map<Integer, String>> straight = pool.submit(() -> {
        try (Launcher run = Launcher.startC1(TinyRun.train(config, data, dir.resolve("straight"), STEPS, EVERY))) {
          assertEquals(0, run.waitFor(5), run.output());
          return evaluations(run.output());
        }
      });
      for (int c = 1; c < CHAINS; c++) {
        int chain = c;
        running.add(pool.submit(() -> chain(Character.toString('a' + chain), KILLS / CHAINS, randoms.get(chain))));
      }
      expected = result(straight);
      for (Future<Chain> chain : running) {
        chains.add(result(chain));
      }
    } finally {
      pool.shutdownNow();
    }
    String expectedEnd = expected.get(STEPS);

    Map<Hit, Integer> hits = new EnumMap<>(Hit.class);
    int kills = 0;
    int restarts = 0;
    int compared = 0;
    int completed = 0;
    for (Chain chain : chains) {
      chain.hits.forEach((hit, n) -> hits.merge(hit, n, Integer::sum));
      kills += chain.kills;
      restarts += chain.restarts;
      for (String output : chain.printed) {
        compared += compare(expected, output);
      }
      for (String output : chain.ends) {
        Matcher end = END.matcher(output.lines().reduce((a, b) -> b).orElse(""));
        assertTrue(end.matches(), output);
        assertEquals(expectedEnd, end.group(1), output);
        completed++;
      }
    }
    double seconds = (System.nanoTime() - started) / 1e9;
    System.out.printf("fault injection: %d kills in %d chains: %d during a checkpoint save, %d during steps or evaluations, %d "
            + "during start-up; %d left no complete checkpoint yet (resume said so, the run was started again); %d runs completed, "
            + "each at validation %s bpc as the uninterrupted run; %d evaluations compared; %.0f s%n", kills, chains.size(),
        hits.getOrDefault(Hit.SAVE, 0), hits.getOrDefault(Hit.STEPS, 0), hits.getOrDefault(Hit.START_UP, 0), restarts, completed,
        expectedEnd, compared, seconds);
    assertEquals(KILLS, kills);
  }

  /**
   * One chain: runs in {@code dir/<name>-run-N}, one child at a time, until {@code kills} children
   * were killed and the last killed run has been resumed to its end.
   */
  private Chain chain(String name, int kills, Random random) throws Exception {
    Chain chain = new Chain();
    int completed = 0;
    Path run = null;
    boolean resume = false;
    while (chain.kills < kills || run != null) {
      if (run == null) {
        run = dir.resolve(name + "-run-" + completed);
        resume = false;
      }
      String[] args = resume ? TinyRun.train(config, data, run, STEPS, EVERY, "--resume") : TinyRun.train(config, data, run, STEPS, EVERY);
      try (Launcher child = Launcher.startC1(args)) {
        if (chain.kills < kills && killAtARandomMoment(child, random)) {
          chain.kills++;
          chain.hits.merge(whereItHit(run, child.output()), 1, Integer::sum);
          chain.printed.add(child.output());
          resume = true;
          continue;
        }
        int code = child.waitFor(5);
        if (code == 2 && resume && child.output().contains(NOTHING_SAVED)) {
          assertTrue(Files.notExists(run.resolve("checkpoints").resolve("manifest.json")), child.output());
          resume = false; // killed before its first checkpoint was complete: nothing to resume, start it again
          chain.restarts++;
          continue;
        }
        assertEquals(0, code, child.output());
        chain.printed.add(child.output());
        chain.ends.add(child.output());
        assertLeftNothingBehind(run);
        completed++;
        run = null;
      }
    }
    return chain;
  }

  /** The task's result, or what it threw. */
  private static <T> T result(Future<T> task) throws Exception {
    try {
      return task.get(30, TimeUnit.MINUTES);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof Error error) {
        throw error;
      }
      throw (Exception) e.getCause();
    }
  }

  /**
   * Kills at a moment of one of three kinds, drawn with its numbers from the seeded random: any time
   * after the start (often start-up); after 1 to 3 evaluations, a time into the steps that follow;
   * or after 1 to 3 evaluations, at once (the save of that step follows the evaluation). Waiting for
   * evaluations makes each run progress, so later kills hit runs resumed from real checkpoints, not
   * only runs that never saved. Returns false if the process ended first.
   */
  private static boolean killAtARandomMoment(Launcher child, Random random) throws InterruptedException {
    int kind = random.nextInt(3);
    long delay = switch (kind) {
      case 0 -> random.nextInt(6000);
      case 1 -> random.nextInt(600); // a step of the tiny model takes tens of milliseconds
      default -> random.nextInt(30); // a save takes milliseconds
    };
    if (kind > 0) {
      int evaluations = 1 + random.nextInt(3);
      for (int i = 0; i < evaluations; i++) {
        if (child.nextLine(line -> EVALUATION.matcher(line).matches(), 120).isEmpty()) {
          return false;
        }
      }
    }
    return child.runsAfter(delay) && child.kill() != 0;
  }

  /**
   * Before its first step ({@link #STARTED}) a run has swept what earlier kills left, so a
   * save it was killed in leaves a partial directory, a manifest temp file or an unnamed step
   * directory of its own.
   */
  private static Hit whereItHit(Path run, String output) throws Exception {
    if (output.lines().noneMatch(line -> STARTED.matcher(line).matches())) {
      return Hit.START_UP;
    }
    return leftovers(run.resolve("checkpoints")).isEmpty() ? Hit.STEPS : Hit.SAVE;
  }

  private static List<String> leftovers(Path root) throws Exception {
    if (!Files.isDirectory(root)) {
      return List.of();
    }
    List<String> kept = new Checkpoints(root.getParent(), 1).manifest().map(Checkpoints.Manifest::kept).orElse(List.of());
    List<String> leftovers = new ArrayList<>();
    try (Stream<Path> entries = Files.list(root)) {
      entries.map(p -> p.getFileName().toString()).filter(n -> !n.equals("manifest.json") && !kept.contains(n)).forEach(leftovers::add);
    }
    return leftovers;
  }

  private static void assertLeftNothingBehind(Path run) throws Exception {
    assertEquals(List.of(), leftovers(run.resolve("checkpoints")));
    List<String> warnings = new ArrayList<>();
    Checkpoints.latestVerified(run, warnings::add);
    assertEquals(List.of(), warnings);
  }

  /** Step -> validation bpc as printed. */
  private static Map<Integer, String> evaluations(String output) {
    Map<Integer, String> bpc = new TreeMap<>();
    output.lines().map(EVALUATION::matcher).filter(Matcher::matches).forEach(m -> bpc.put(Integer.parseInt(m.group(1)), m.group(2)));
    return bpc;
  }

  /** Checks every validation the output printed against the uninterrupted run's; returns how many. */
  private static int compare(Map<Integer, String> expected, String output) {
    Map<Integer, String> printed = evaluations(output);
    printed.forEach((step, bpc) -> assertEquals(expected.get(step), bpc, "validation at step " + step + ":\n" + output));
    return printed.size();
  }
}
