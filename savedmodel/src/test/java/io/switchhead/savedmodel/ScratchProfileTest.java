package io.switchhead.savedmodel;

import io.switchhead.graph.config.ModelConfig;
import io.switchhead.graph.config.Presets;
import io.switchhead.graph.model.DecodeGraph;
import io.switchhead.graph.params.ParamStore;
import io.switchhead.ops.Tensors;
import java.util.*;
import org.junit.jupiter.api.Test;
import org.tensorflow.*;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.*;
import org.tensorflow.types.*;

class ScratchProfileTest {
  @Test
  void profile() {
    ModelConfig c = Presets.get("switchhead-tiny");
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      ParamStore store = ParamStore.variables(tf, 1);
      ServingGraph s = ServingGraph.build(tf, c, store);
      store.freeze();
      try (Session session = new Session(g)) {
        session.initialize();
        int rows = 32;
        try (TFloat32 keys = TFloat32.tensorOf(DecodeGraph.cacheShape(c, 1, rows));
             TFloat32 values = TFloat32.tensorOf(DecodeGraph.cacheShape(c, 1, rows));
             TInt32 tok = Tensors.ints(Shape.of(1, 1), new int[] {65});
             TInt32 pos = TInt32.scalarOf(rows)) {
          Runnable once = () -> {
            try (Result r = session.runner().feed(s.decode().tokens(), tok).feed(s.decode().position(), pos)
                .feed(s.decode().keys(), keys).feed(s.decode().values(), values)
                .fetch(s.decode().output().logits()).fetch(s.decode().output().keys()).fetch(s.decode().output().values()).run()) {}
          };
          for (int i = 0; i < 300; i++) once.run();
          long t0 = System.nanoTime();
          for (int i = 0; i < 1000; i++) once.run();
          System.out.printf("SCRATCH untraced %.1f us/call%n", (System.nanoTime() - t0) / 1e3 / 1000);
          RunOptions opts = RunOptions.newBuilder().setTraceLevel(RunOptions.TraceLevel.FULL_TRACE).build();
          Map<String, long[]> byType = new TreeMap<>();
          int runs = 20;
          for (int i = 0; i < runs; i++) {
            try (Result r = session.runner().setOptions(opts).feed(s.decode().tokens(), tok).feed(s.decode().position(), pos)
                .feed(s.decode().keys(), keys).feed(s.decode().values(), values)
                .fetch(s.decode().output().logits()).fetch(s.decode().output().keys()).fetch(s.decode().output().values()).runAndFetchMetadata()) {
              RunMetadata md = r.getMetadata().get();
              for (DeviceStepStats d : md.getStepStats().getDevStatsList()) {
                for (NodeExecStats n : d.getNodeStatsList()) {
                  String[] parts = n.getNodeName().split("/");
                  StringBuilder sb = new StringBuilder();
                  for (int q = 0; q < Math.min(parts.length - 1, Integer.getInteger("depth", 4)); q++) sb.append(parts[q].replaceAll("_[0-9]+$", "")).append('/');
                  String type = sb.toString().replaceAll("layers/[0-9]+", "layers/*");
                  long[] v = byType.computeIfAbsent(type, k -> new long[2]);
                  v[0]++; v[1] += n.getAllEndRelMicros();
                }
              }
            }
          }
          long total = 0, count = 0;
          List<Map.Entry<String, long[]>> es = new ArrayList<>(byType.entrySet());
          es.sort((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0]));
          for (var e : es) { total += e.getValue()[1]; count += e.getValue()[0]; }
          System.out.printf("SCRATCH ops/call %.1f  op-us/call %.1f%n", count / (double) runs, total / (double) runs);
          for (var e : es) System.out.printf("SCRATCH %-28s %6.1f ops %8.1f us%n", e.getKey(), e.getValue()[0] / (double) runs, e.getValue()[1] / (double) runs);
        }
      }
    }
  }
}
