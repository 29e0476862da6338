package io.switchhead.graph.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A cluster file is a worker list of distinct host:port addresses; anything else is refused naming the file and field. */
class ClusterFileTest {

  @TempDir Path dir;

  @Test
  void aWorkerListIsTheTasksInOrder() throws IOException {
    ClusterSpec spec = ClusterFile.read(write("{\"worker\": [\"127.0.0.1:5000\", \"10.0.0.2:5001\"]}"));
    assertEquals(2, spec.tasks());
    assertEquals("grpc://10.0.0.2:5001", spec.target(1));
    assertEquals("/job:worker/replica:0/task:1/device:CPU:0", spec.device(1).toString());
    assertEquals("/job:worker/replica:0/task:0", spec.session(org.tensorflow.proto.ConfigProto.getDefaultInstance())
        .getExperimental().getCollectiveGroupLeader());
    assertEquals("/job:worker/replica:0/task:0", spec.server(1).getDefaultSessionConfig().getExperimental().getCollectiveGroupLeader());
    assertEquals("10.0.0.2:5001", spec.server(1).getCluster().getJob(0).getTasksOrThrow(1));
  }

  @Test
  void badFilesAreRefusedNamingTheFileAndField() throws IOException {
    refused(dir.resolve("absent.json"), "absent.json: no such file");
    refused(write("{\"worker\": ["), "cluster.json: not JSON");
    refused(write("[\"127.0.0.1:5000\"]"), "cluster.json: expected an object");
    refused(write("{\"workers\": []}"), "cluster.json: unknown field \"workers\"");
    refused(write("{}"), "cluster.json: \"worker\" must be a list of \"host:port\" addresses, got no such field");
    refused(write("{\"worker\": \"127.0.0.1:5000\"}"), "\"worker\" must be a list of \"host:port\" addresses, got string");
    refused(write("{\"worker\": []}"), "cluster.json: \"worker\" lists no task");
    refused(write("{\"worker\": [\"127.0.0.1\"]}"), "cluster.json: worker[0]: \"127.0.0.1\" is not host:port");
    refused(write("{\"worker\": [5000]}"), "cluster.json: worker[0]: expected a \"host:port\" string, got 5000");
    refused(write("{\"worker\": [\"a:1\", \"b:2\", \"a:1\"]}"), "cluster.json: worker[2]: \"a:1\" is worker[0]'s address too");
  }

  @Test
  void aTaskOutsideTheListIsRefused() throws IOException {
    ClusterSpec spec = ClusterFile.read(write("{\"worker\": [\"a:1\", \"b:2\"]}"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> spec.checkTask(2));
    assertTrue(e.getMessage().contains("--task (2) must be in [0, 2): ") && e.getMessage().contains("cluster.json lists 2 workers"),
        e.getMessage());
  }

  @Test
  void anErrorIsMappedToTheTaskItNames() throws IOException {
    ClusterSpec spec = ClusterFile.read(write("{\"worker\": [\"a:1\", \"b:2\", \"c:3\"]}"));
    assertEquals(Optional.of(2), spec.taskIn("from /job:worker/replica:0/task:0: Unavailable: /job:worker/replica:0/task:2 is gone"));
    assertEquals(Optional.of(1), spec.taskIn("failed to connect to all addresses; last error: b:2: Connection refused"));
    assertEquals(Optional.of(0), spec.taskIn("on /job:worker/replica:0/task:0/device:CPU:0: out of memory"));
    assertEquals(Optional.empty(), spec.taskIn("something else"));
  }

  private Path write(String json) throws IOException {
    return Files.writeString(dir.resolve("cluster.json"), json);
  }

  private static void refused(Path file, String expected) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ClusterFile.read(file));
    assertTrue(e.getMessage().contains(expected), "expected \"" + expected + "\" in: " + e.getMessage());
  }
}
