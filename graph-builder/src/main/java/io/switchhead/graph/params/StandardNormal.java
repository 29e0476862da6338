package io.switchhead.graph.params;

import java.util.SplittableRandom;

/**
 * Standard normal draws by Marsaglia's polar method, from a given generator. Not {@code
 * RandomGenerator.nextGaussian}: its algorithm belongs to the JDK and may change with it, and
 * initial values should depend on the seed alone. StrictMath, not Math: Math.log may be an
 * intrinsic whose last bit differs between the interpreter and compiled code.
 */
final class StandardNormal {

  private final SplittableRandom random;
  private double spare;
  private boolean hasSpare;

  StandardNormal(SplittableRandom random) {
    this.random = random;
  }

  double next() {
    if (hasSpare) {
      hasSpare = false;
      return spare;
    }
    double u;
    double v;
    double s;
    do {
      u = 2 * random.nextDouble() - 1;
      v = 2 * random.nextDouble() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s == 0);
    double m = StrictMath.sqrt(-2 * StrictMath.log(s) / s);
    spare = v * m;
    hasSpare = true;
    return u * m;
  }
}
