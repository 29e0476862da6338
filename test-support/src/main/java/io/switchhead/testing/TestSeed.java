package io.switchhead.testing;

import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionConfigurationException;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.LifecycleMethodExecutionExceptionHandler;
import org.junit.jupiter.api.extension.TestExecutionExceptionHandler;
import org.junit.platform.commons.support.AnnotationSupport;
import org.junit.platform.commons.support.HierarchyTraversalMode;
import org.junit.platform.commons.support.ModifierSupport;
import org.opentest4j.TestAbortedException;

/**
 * The one source of randomness for the project's tests, so that a failure can be repeated.
 *
 * <p>A run has one base seed: {@value #PROPERTY} if set (a system property, which Maven passes to
 * the test JVM: {@code mvn -B verify -Dswitchhead.seed=N}), otherwise a fresh one per JVM. Each
 * {@link Seeded} field gets {@code seed(base, test's unique id and field)}, so a test draws the
 * same inputs whichever other tests run, in whatever order, and two tests draw different ones.
 *
 * <p>When a test of a class that uses it fails, the failure carries "seed N: re-run with
 * -Dswitchhead.seed=N" (as a suppressed exception, so it is in surefire's report and on the
 * console with the stack trace), and the same line goes to standard error.
 */
public final class TestSeed
    implements BeforeAllCallback, BeforeEachCallback, TestExecutionExceptionHandler, LifecycleMethodExecutionExceptionHandler {

  /** The system property (or JUnit configuration parameter) that fixes the base seed. */
  public static final String PROPERTY = "switchhead.seed";

  private static Long freshBase;

  /** The seed line added to a failure as a suppressed exception; it has no stack trace of its own. */
  static final class Report extends Exception {
    private static final long serialVersionUID = 1L;

    Report(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * The base seed: the property's value, or one drawn once per JVM (and printed) when it is unset
   * or blank.
   */
  public static long base(ExtensionContext context) {
    Optional<String> configured = context.getConfigurationParameter(PROPERTY).filter(v -> !v.isBlank());
    if (configured.isPresent()) {
      try {
        return Long.parseLong(configured.get().trim());
      } catch (NumberFormatException e) {
        throw new ExtensionConfigurationException(PROPERTY + " must be a long, got '" + configured.get() + "'", e);
      }
    }
    synchronized (TestSeed.class) {
      if (freshBase == null) {
        freshBase = ThreadLocalRandom.current().nextLong();
        System.out.println(PROPERTY + " not set: the tests in this JVM use seed " + freshBase + " (" + rerun(freshBase) + ")");
      }
      return freshBase;
    }
  }

  /** The seed of one key (a test's unique id and a field) under a base seed: FNV-1a, then splitmix64's mixer. */
  public static long seed(long base, String key) {
    long hash = 0xcbf29ce484222325L;
    for (byte b : key.getBytes(StandardCharsets.UTF_8)) {
      hash = (hash ^ (b & 0xff)) * 0x100000001b3L;
    }
    return mix(base ^ mix(hash));
  }

  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }

  private static String rerun(long base) {
    return "re-run with -D" + PROPERTY + "=" + base;
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    inject(context, null, context.getRequiredTestClass());
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    for (Object instance : context.getRequiredTestInstances().getAllInstances()) {
      inject(context, instance, instance.getClass());
    }
  }

  /** Sets the static fields (instance null) or the instance's fields from the context's unique id. */
  private static void inject(ExtensionContext context, Object instance, Class<?> type) {
    List<Field> fields =
        AnnotationSupport.findAnnotatedFields(
            type, Seeded.class, f -> ModifierSupport.isStatic(f) == (instance == null), HierarchyTraversalMode.TOP_DOWN);
    if (fields.isEmpty()) {
      return;
    }
    long base = base(context);
    for (Field field : fields) {
      if (ModifierSupport.isFinal(field)) {
        throw new ExtensionConfigurationException("@Seeded field " + field + " must not be final");
      }
      long seed = seed(base, context.getUniqueId() + "#" + field.getDeclaringClass().getName() + "." + field.getName());
      Object value;
      if (field.getType() == Random.class) {
        value = new Random(seed);
      } else if (field.getType() == long.class || field.getType() == Long.class) {
        value = seed;
      } else {
        throw new ExtensionConfigurationException("@Seeded field " + field + " must be a java.util.Random or a long");
      }
      try {
        field.setAccessible(true);
        field.set(instance, value);
      } catch (IllegalAccessException e) {
        throw new ExtensionConfigurationException("cannot set @Seeded field " + field, e);
      }
    }
  }

  /**
   * Adds the seed to a failure (not to an aborted test: an assumption is no failure) and rethrows
   * it. Failures of tests and of before-methods, where seeded inputs are drawn and used; after-methods
   * clean up.
   */
  private static void report(ExtensionContext context, Throwable failure) throws Throwable {
    if (!(failure instanceof TestAbortedException)) {
      long base = base(context);
      String test = context.getRequiredTestClass().getSimpleName() + context.getTestMethod().map(m -> "#" + m.getName()).orElse("");
      String line =
          "seed " + base + ": " + rerun(base) + ", e.g. mvn -B verify -D" + PROPERTY + "=" + base
              + " -Dtest='" + test + "' -Dsurefire.failIfNoSpecifiedTests=false";
      boolean reported = false;
      for (Throwable s : failure.getSuppressed()) {
        reported |= s instanceof Report;
      }
      if (!reported) {
        failure.addSuppressed(new Report(line));
        System.err.println(test + " [" + context.getDisplayName() + "] failed: " + line);
      }
    }
    throw failure;
  }

  @Override
  public void handleTestExecutionException(ExtensionContext context, Throwable failure) throws Throwable {
    report(context, failure);
  }

  @Override
  public void handleBeforeAllMethodExecutionException(ExtensionContext context, Throwable failure) throws Throwable {
    report(context, failure);
  }

  @Override
  public void handleBeforeEachMethodExecutionException(ExtensionContext context, Throwable failure) throws Throwable {
    report(context, failure);
  }
}
