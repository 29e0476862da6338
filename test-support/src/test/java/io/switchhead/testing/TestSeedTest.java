package io.switchhead.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.platform.engine.DiscoverySelector;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/** The extension run on fixture classes through a launcher of its own, as surefire runs the real tests. */
class TestSeedTest {

  /** What the fixtures drew, by test; they only draw (or fail) when {@link #run} launches them. */
  private static final Map<String, List<Long>> DRAWN = new ConcurrentHashMap<>();
  private static volatile boolean launched;
  private static final ByteArrayOutputStream stderr = new ByteArrayOutputStream();

  static class Fixture {
    @Seeded static long classSeed;
    @Seeded Random random;
    @Seeded long seed;

    @BeforeAll
    static void beforeAll() {
      if (launched) {
        DRAWN.put("beforeAll", List.of(classSeed));
      }
    }

    private void draw(String test) {
      assumeTrue(launched, "a fixture of TestSeedTest");
      DRAWN.put(test, List.of(random.nextLong(), random.nextLong(), seed));
    }

    @Test
    void first() {
      draw("first");
    }

    @Test
    void second() {
      draw("second");
    }
  }

  static class FailingFixture {
    @Seeded Random random;

    @Test
    void fails() {
      assumeTrue(launched, "a fixture of TestSeedTest");
      fail("drew " + random.nextInt());
    }

    /**
     * Aborted on purpose, and only when {@link #run} launches it: the outer test checks that an
     * aborted test gets no seed report (a skipped assumption is not a failure to re-run).
     */
    @Test
    void isAborted() {
      assumeTrue(launched, "a fixture of TestSeedTest");
      assumeTrue(!launched, "the assumption this fixture exists to break");
    }
  }

  /**
   * Runs the selected fixture tests with the base seed given; the results by display name ("first()",
   * "TestSeedTest$Fixture"). What the fixtures print to standard error goes to {@link #stderr}.
   */
  private static Map<String, TestExecutionResult> run(String baseSeed, DiscoverySelector... selectors) {
    DRAWN.clear();
    Map<String, TestExecutionResult> results = new ConcurrentHashMap<>();
    stderr.reset();
    PrintStream err = System.err;
    System.setErr(new PrintStream(stderr, true, StandardCharsets.UTF_8));
    launched = true;
    try {
      LauncherFactory.create().execute(
          LauncherDiscoveryRequestBuilder.request().selectors(selectors).configurationParameter(TestSeed.PROPERTY, baseSeed).build(),
          new TestExecutionListener() {
            @Override
            public void executionFinished(TestIdentifier id, TestExecutionResult result) {
              results.put(id.getDisplayName(), result);
            }
          });
    } finally {
      launched = false;
      System.setErr(err);
    }
    return results;
  }

  private static Map<String, List<Long>> drawn(String baseSeed, DiscoverySelector... selectors) {
    Map<String, TestExecutionResult> results = run(baseSeed, selectors);
    results.forEach((test, r) -> assertEquals(TestExecutionResult.Status.SUCCESSFUL, r.getStatus(), test + ": " + r));
    return Map.copyOf(DRAWN);
  }

  @Test
  void theSameBaseSeedGivesTheSameValuesAndAnotherGivesOthers() {
    Map<String, List<Long>> a = drawn("123", selectClass(Fixture.class));
    assertEquals(3, a.size(), a.toString());
    assertEquals(a, drawn("123", selectClass(Fixture.class)));
    Map<String, List<Long>> other = drawn("124", selectClass(Fixture.class));
    for (String test : a.keySet()) {
      assertNotEquals(a.get(test), other.get(test), test);
    }
  }

  @Test
  void eachTestAndFieldHasItsOwnSeedWhicheverTestsRun() {
    Map<String, List<Long>> both = drawn("7", selectClass(Fixture.class));
    assertNotEquals(both.get("first"), both.get("second"));
    assertNotEquals(both.get("first").get(0), both.get("first").get(2), "the Random and the long field share a seed");
    Map<String, List<Long>> alone = drawn("7", selectMethod(Fixture.class, "second"));
    assertEquals(both.get("second"), alone.get("second"), "a test's values depend on the tests run before it");
    assertEquals(both.get("beforeAll"), alone.get("beforeAll"));
  }

  @Test
  void aFailureCarriesTheSeedToReRunWithAndReRunningRepeatsIt() {
    Map<String, TestExecutionResult> results = run("-987", selectClass(FailingFixture.class));
    Throwable failure = results.get("fails()").getThrowable().orElseThrow();
    assertTrue(failure.getMessage().startsWith("drew "), failure.toString());
    List<String> reports = Arrays.stream(failure.getSuppressed()).map(Throwable::getMessage).toList();
    assertEquals(1, reports.size(), reports.toString());
    String line = "seed -987: re-run with -Dswitchhead.seed=-987, e.g. mvn -B verify -Dswitchhead.seed=-987 -Dtest='FailingFixture#fails'";
    assertTrue(reports.get(0).startsWith(line), reports.get(0));
    assertTrue(stderr.toString(StandardCharsets.UTF_8).startsWith("FailingFixture#fails [fails()] failed: " + line), stderr.toString());
    Throwable again = run("-987", selectClass(FailingFixture.class)).get("fails()").getThrowable().orElseThrow();
    assertEquals(failure.getMessage(), again.getMessage(), "the same seed must fail the same way");
    // An aborted test is not a failure and gets no seed.
    TestExecutionResult aborted = results.get("isAborted()");
    assertEquals(TestExecutionResult.Status.ABORTED, aborted.getStatus());
    assertEquals(0, aborted.getThrowable().orElseThrow().getSuppressed().length);
  }

  @Test
  void aSeedIsAFunctionOfTheBaseAndTheKeyOnly() {
    assertEquals(TestSeed.seed(1, "[class:A]/[method:b()]"), TestSeed.seed(1, "[class:A]/[method:b()]"));
    assertNotEquals(TestSeed.seed(1, "[class:A]/[method:b()]"), TestSeed.seed(2, "[class:A]/[method:b()]"));
    assertNotEquals(TestSeed.seed(1, "[class:A]/[method:b()]"), TestSeed.seed(1, "[class:A]/[method:c()]"));
  }

  @Test
  void aBaseSeedThatIsNoNumberIsRefusedByName() {
    Throwable error = run("12abc", selectClass(Fixture.class)).get("TestSeedTest$Fixture").getThrowable().orElseThrow();
    assertEquals("switchhead.seed must be a long, got '12abc'", error.getMessage());
  }
}
