package io.switchhead.graph.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.function.Function;

/**
 * The one writer of a run directory: held by a {@link Trainer} from before it writes anything until
 * it is closed, so that two trainers on one directory cannot silently overwrite each other's
 * checkpoints and TensorBoard log. Readers ({@code generate}, export) take no lock.
 *
 * <p>The lock is an OS lock ({@link FileChannel#tryLock}) on {@value #FILE}, which holds a line naming
 * its owner (pid, host, since when) for the message of a refused writer. A killed process's OS lock
 * is released by the OS, so its lock file, still naming it, is simply taken over by the next writer.
 *
 * <p>Within one JVM the OS lock does not exclude: on Linux it is a POSIX record lock, owned by the
 * process and released when the process closes <em>any</em> descriptor of the file. A second
 * writer in the same JVM that opened the file to try the lock (and got an
 * OverlappingFileLockException) would, on closing it, silently release the first writer's lock for
 * every other process. So a writer first creates a marker {@code run.lock.<process>} naming its
 * process (host, pid and start time, which a restarted process does not share), atomically: if it
 * exists, a writer of this JVM holds or is taking the lock, and the file is never opened. Markers
 * of dead processes are swept by the next owner.
 */
public final class RunLock implements AutoCloseable {

  static final String FILE = "run.lock";

  private final Path directory;
  private final Path marker;
  private final FileChannel channel;
  private final FileLock lock;
  private boolean released;

  private RunLock(Path directory, Path marker, FileChannel channel, FileLock lock) {
    this.directory = directory;
    this.marker = marker;
    this.channel = channel;
    this.lock = lock;
  }

  /**
   * Takes the lock on {@code directory}, creating the directory if needed.
   *
   * @throws IllegalArgumentException naming the owner and the directory if another writer holds it
   */
  public static RunLock acquire(Path directory) {
    String host = hostName();
    Path marker = directory.resolve(FILE + "." + processName(host).replaceAll("[^A-Za-z0-9.-]", "_"));
    String owner = "pid " + ProcessHandle.current().pid() + " on " + host + " since "
        + Instant.now().truncatedTo(ChronoUnit.SECONDS);
    try {
      Files.createDirectories(directory);
      try {
        Files.writeString(marker, owner + "\n", StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
      } catch (FileAlreadyExistsException heldInThisProcess) {
        throw locked(directory, readIfPresent(marker));
      }
      try {
        return lock(directory, marker, owner);
      } catch (RuntimeException | Error e) {
        Files.deleteIfExists(marker);
        throw e;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot lock run directory " + directory, e);
    }
  }

  /**
   * Takes the lock on {@code directory} and hands it to {@code open}, whose result then owns it (and
   * releases it when closed); if {@code open} throws, the lock is released.
   */
  public static <T> T holding(Path directory, Function<RunLock, T> open) {
    RunLock lock = acquire(directory);
    try {
      return open.apply(lock);
    } catch (RuntimeException | Error e) {
      lock.close();
      throw e;
    }
  }

  /** With this process's marker in place: no other writer of this JVM has the file open. */
  private static RunLock lock(Path directory, Path marker, String owner) throws IOException {
    FileChannel channel = FileChannel.open(directory.resolve(FILE),
        StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    try {
      FileLock lock;
      try {
        lock = channel.tryLock();
      } catch (OverlappingFileLockException heldInThisJvm) {
        lock = null; // only if something of this JVM locked the file without a marker
      }
      if (lock == null) {
        throw locked(directory, read(channel));
      }
      channel.truncate(0);
      channel.write(ByteBuffer.wrap((owner + "\n").getBytes(StandardCharsets.UTF_8)), 0);
      channel.force(true);
      sweepMarkersOfOtherProcesses(directory, marker);
      return new RunLock(directory, marker, channel, lock);
    } catch (RuntimeException | Error | IOException e) {
      channel.close();
      throw e;
    }
  }

  private static IllegalArgumentException locked(Path directory, String owner) {
    String who = owner.isBlank() ? "another writer, which is taking or releasing it now" : owner.strip();
    return new IllegalArgumentException("run directory " + directory + " is locked by " + who
        + ": another trainer is writing to it (wait for it to end, or write to another directory)");
  }

  /** The marker's owner line; empty if its writer released it meanwhile. */
  private static String readIfPresent(Path marker) throws IOException {
    try {
      return Files.readString(marker);
    } catch (NoSuchFileException released) {
      return "";
    }
  }

  private static String read(FileChannel channel) throws IOException {
    ByteBuffer buffer = ByteBuffer.allocate((int) Math.min(channel.size(), 4096));
    channel.read(buffer, 0);
    return new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8);
  }

  /** While this process holds the OS lock, no other process holds or can take it: their markers are stale. */
  private static void sweepMarkersOfOtherProcesses(Path directory, Path ours) throws IOException {
    try (DirectoryStream<Path> markers = Files.newDirectoryStream(directory, FILE + ".*")) {
      for (Path marker : markers) {
        if (!marker.equals(ours)) {
          Files.deleteIfExists(marker);
        }
      }
    }
  }

  /** This process, as no other process on any host is named: a restarted one may reuse the pid, not the start time. */
  private static String processName(String host) {
    ProcessHandle self = ProcessHandle.current();
    long started = self.info().startInstant().map(Instant::toEpochMilli).orElse(0L);
    return host + "-" + self.pid() + "-" + started;
  }

  private static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      return "unknown-host";
    }
  }

  /** Clears the owner line, releases the OS lock, then the marker. Idempotent. */
  @Override
  public void close() {
    if (released) {
      return;
    }
    released = true;
    try {
      try (channel) {
        channel.truncate(0);
        lock.release();
      } finally {
        Files.deleteIfExists(marker);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot release the lock of run directory " + directory, e);
    }
  }
}
