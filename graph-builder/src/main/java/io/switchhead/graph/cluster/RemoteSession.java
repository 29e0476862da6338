package io.switchhead.graph.cluster;

import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import org.bytedeco.javacpp.BytePointer;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.internal.c_api.TF_Graph;
import org.tensorflow.internal.c_api.TF_Session;
import org.tensorflow.internal.c_api.TF_SessionOptions;
import org.tensorflow.internal.c_api.TF_Status;
import org.tensorflow.internal.c_api.global.tensorflow;
import org.tensorflow.proto.ConfigProto;

/**
 * A {@link Session} whose master is a TensorFlow server ({@code grpc://host:port}), which TF Java
 * 1.1.0's public API cannot make: {@code Session} takes no target. The C API can
 * ({@code TF_SetTarget} on the options of {@code TF_NewSession}), and {@code Session} has a
 * package-private constructor that wraps such a handle. Both the constructor and {@code Graph}'s
 * {@code nativeHandle} field are reached by reflection, so a TF Java release that renames them
 * breaks this class alone ({@code RemoteSessionTest} pins it).
 */
public final class RemoteSession {

  private RemoteSession() {}

  /** A session of {@code graph} on the server at {@code target}, configured by {@code config}. */
  public static Session open(Graph graph, String target, ConfigProto config) {
    TF_SessionOptions options = tensorflow.TF_NewSessionOptions();
    try (TF_Status status = TF_Status.newStatus()) {
      tensorflow.TF_SetTarget(options, target);
      byte[] bytes = config.toByteArray();
      try (BytePointer proto = new BytePointer(bytes)) {
        tensorflow.TF_SetConfig(options, proto, bytes.length, status);
        status.throwExceptionIfNotOK();
      }
      TF_Session handle = tensorflow.TF_NewSession(nativeHandle(graph), options, status);
      status.throwExceptionIfNotOK();
      return wrap(graph, handle);
    } finally {
      tensorflow.TF_DeleteSessionOptions(options);
    }
  }

  private static TF_Graph nativeHandle(Graph graph) {
    try {
      Field field = Graph.class.getDeclaredField("nativeHandle");
      field.setAccessible(true);
      return (TF_Graph) field.get(graph);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("this TF Java has no Graph.nativeHandle: a session on a cluster needs TF Java 1.1.0's", e);
    }
  }

  private static Session wrap(Graph graph, TF_Session handle) {
    try {
      Constructor<Session> constructor = Session.class.getDeclaredConstructor(Graph.class, TF_Session.class);
      constructor.setAccessible(true);
      return constructor.newInstance(graph, handle);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("this TF Java has no Session(Graph, TF_Session): a session on a cluster needs TF Java 1.1.0's", e);
    }
  }
}
