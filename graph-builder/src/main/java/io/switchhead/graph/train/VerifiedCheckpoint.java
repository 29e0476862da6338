package io.switchhead.graph.train;

import java.nio.file.Path;
import java.util.Map;
import org.tensorflow.Session;
import org.tensorflow.exceptions.TensorFlowException;

/**
 * A checkpoint that passed {@link Checkpoints#latestVerified}: its files are those written at save
 * time, its state is one a run can be in, and its index lists the tensors really saved. Training,
 * generation and export all load through it.
 *
 * @param directory the checkpoint's directory ({@code <run>/checkpoints/step-NNNNNNNNN})
 * @param state what the run saved beside the variables
 * @param variablesPrefix the prefix TensorFlow restores from
 * @param index the tensors the checkpoint holds
 */
public record VerifiedCheckpoint(Path directory, RunState state, String variablesPrefix, CheckpointIndex index) {

  /** "step-000000020", for messages. */
  public String name() {
    return directory.getFileName().toString();
  }

  /**
   * Restores every variable of a training graph, after checking that the checkpoint holds exactly
   * those (names, types, shapes).
   *
   * @throws IllegalArgumentException naming the checkpoint if they differ or TensorFlow fails
   */
  public void restoreAll(Session session, Map<String, VariableType> graphVariables) {
    SavedVariables.requireExactly(graphVariables, index, name());
    restore(session);
  }

  /**
   * Restores the parameters of a forward-only graph (generation, export), after checking that the
   * checkpoint holds those and, besides them, only training state (Adam slots, XL memories).
   *
   * @throws IllegalArgumentException naming the checkpoint if they differ or TensorFlow fails
   */
  public void restoreParameters(Session session, Map<String, VariableType> graphVariables) {
    SavedVariables.requireParameters(graphVariables, index, name());
    restore(session);
  }

  private void restore(Session session) {
    try {
      session.restore(variablesPrefix);
    } catch (TensorFlowException e) {
      // The files were verified a moment ago: changed since, or a fault TensorFlow alone detects.
      throw new IllegalArgumentException("checkpoint " + directory + " could not be restored: " + e.getMessage().lines().findFirst().orElse(""), e);
    }
  }
}
