package io.switchhead.graph.train;

import java.nio.file.Path;

/** For {@link RunLockTest}: another process that tries to lock the run directory given. */
final class RunLockChild {

  private RunLockChild() {}

  /** Exit 0 having taken and released the lock; 2, printing the refusal, if it is held. */
  public static void main(String[] args) {
    try (RunLock lock = RunLock.acquire(Path.of(args[0]))) {
      System.out.println("locked " + args[0]);
    } catch (IllegalArgumentException refused) {
      System.out.println(refused.getMessage());
      System.exit(2);
    }
  }
}
