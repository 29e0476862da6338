package io.switchhead.testing;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A field that {@link TestSeed} fills with a seeded value: a {@link java.util.Random} or a
 * {@code long} seed. Instance fields are set before each test from that test's seed; static fields
 * before the class's {@code @BeforeAll} methods, from the class's seed. The field must not be final.
 *
 * <pre>{@code
 * class FooTest {
 *   @Seeded private Random random;
 * }
 * }</pre>
 *
 * <p>The annotation registers the extension, so a test class needs nothing else.
 */
@Documented
@Target(ElementType.FIELD)
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(TestSeed.class)
public @interface Seeded {}
