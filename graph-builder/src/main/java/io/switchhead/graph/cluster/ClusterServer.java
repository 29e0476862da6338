package io.switchhead.graph.cluster;

import org.tensorflow.Server;

/**
 * The gRPC server of one task of a {@link ClusterSpec}. It cannot be stopped: TensorFlow's gRPC
 * server has no clean shutdown ({@code Server.stop()} throws "Clean shutdown is not currently
 * implemented"), so a task's server lives until its process exits. It listens on every interface
 * of its port, whatever host the cluster file names for it, and authenticates no one.
 */
public final class ClusterServer {

  private ClusterServer() {}

  /** Starts task {@code task}'s server; it serves until the process exits. */
  public static Server start(ClusterSpec cluster, int task) {
    Server server = new Server(cluster.server(task));
    server.start();
    return server;
  }
}
