package io.switchhead.tools;

import io.switchhead.graph.cluster.ClusterServer;
import io.switchhead.graph.cluster.ClusterSpec;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.Locale;

/**
 * A task of a cluster other than the chief: it serves its device to the chief's session until the
 * chief's server goes away. TensorFlow's server cannot be stopped (no clean shutdown), and the chief
 * has no way to tell a worker that the run is over, but its own server lives exactly as long as its
 * process: so a worker watches the chief's port, and once it has seen it open, returns when it has
 * been closed for {@link #GONE_CHECKS} checks in a row (the caller then exits, taking the server).
 * A worker started before the chief waits for it.
 */
final class ClusterWorker {

  private static final long CHECK_MS = 500;
  private static final int GONE_CHECKS = 4;

  private ClusterWorker() {}

  static void serve(ClusterSpec spec, int task, PrintWriter out) throws InterruptedException {
    ClusterServer.start(spec, task);
    String chief = spec.workers().get(ClusterSpec.CHIEF);
    out.printf(Locale.ROOT, "serving %s of %s (every interface of its port) until the chief at %s goes away%n", spec.describe(task),
        spec.file(), chief);
    out.flush();
    boolean seen = false;
    int gone = 0;
    while (gone < GONE_CHECKS) {
      Thread.sleep(CHECK_MS);
      boolean open = open(chief);
      seen |= open;
      gone = seen && !open ? gone + 1 : 0;
    }
    out.printf("the chief at %s has gone: this task ends%n", chief);
  }

  private static boolean open(String address) {
    int colon = address.lastIndexOf(':');
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(address.substring(0, colon), Integer.parseInt(address.substring(colon + 1))), 1000);
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
