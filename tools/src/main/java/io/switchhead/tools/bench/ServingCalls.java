package io.switchhead.tools.bench;

import com.google.common.base.Stopwatch;
import io.switchhead.ops.Tensors;
import io.switchhead.savedmodel.ServingSignatures;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.tensorflow.Result;
import org.tensorflow.SessionFunction;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TInt32;

/** Timed calls of a served model, for the serving benchmarks. */
final class ServingCalls {

  private ServingCalls() {}

  static double seconds(Runnable work) {
    Stopwatch watch = Stopwatch.createStarted();
    work.run();
    return watch.elapsed(TimeUnit.NANOSECONDS) / 1e9;
  }

  /** One call of {@code serving_default} on [batch, time] {@code tokens}, its logits fetched. */
  static double windowSeconds(SessionFunction window, int[] tokens, int batch, int time) {
    return seconds(() -> {
      try (TInt32 x = Tensors.ints(Shape.of(batch, time), tokens);
          Result r = window.call(Map.of(ServingSignatures.TOKENS, x))) {
        r.get(ServingSignatures.LOGITS).orElseThrow();
      }
    });
  }

  /** The upper median (the middle value of an odd count). */
  static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }
}
