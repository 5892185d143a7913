package dev.hotcold.flink;

import java.lang.ref.Cleaner;
import java.lang.reflect.Field;
import org.apache.flink.api.common.functions.RuntimeContext;
import org.apache.flink.table.functions.FunctionContext;

/**
 * Closes a sidecar client once the job that opened it has ended here, or
 * the function instance that opened it is gone.
 *
 * <p>Flink 2.3.0 never calls a ProcessTableFunction's {@code close()}: its
 * process table operators (AbstractProcessTableOperator and the set and row
 * variants) open the generated runner in {@code open()} but do not override
 * {@code close()}, so the runner and the function in it are never closed,
 * whether the job finishes, fails or is cancelled. HOTCOLD_JOIN's sidecar
 * client (a gRPC channel with its threads and connection) would then stay
 * open until the channel was garbage collected, which gRPC reports as
 * "ManagedChannel ... was garbage collected without being shut down" (11
 * times in one CI run), if it was collected at all: a finished task's
 * function instance stays reachable until the TaskManager lets go of the
 * job. Each client is therefore closed by whichever comes first: the job's
 * user-code class loader release hook on this TaskManager (the job's tasks
 * here have ended), or the function instance becoming unreachable (a
 * Cleaner, for a Flink whose FunctionContext does not lead to the
 * RuntimeContext). {@code close()}, should a later Flink call it, closes it
 * at once; a client is closed once whichever way.
 */
final class ClientCleaner {
  private ClientCleaner() {}

  private static final Cleaner CLEANER = Cleaner.create();
  private static final Object LOCK = new Object();
  // Guarded by LOCK: the registration numbers of the clients not yet
  // closed, and the number of the last registration.
  private static final java.util.TreeSet<Long> OPEN = new java.util.TreeSet<>();
  private static long registered;

  /**
   * Registers client to be closed, once, by whichever comes first: the
   * returned Cleanable's clean(); the job's user-code class loader being
   * released on this TaskManager, which Flink does once the job's tasks
   * here have ended (finished, failed or cancelled) - no garbage collection
   * needed; owner becoming unreachable. rc may be null (no release hook).
   */
  static Cleaner.Cleanable register(Object owner, AutoCloseable client, RuntimeContext rc) {
    long n;
    synchronized (LOCK) {
      n = ++registered;
      OPEN.add(n);
    }
    // The action must not reach owner, or owner never becomes unreachable:
    // it is built in a static method from the client alone.
    Cleaner.Cleanable c = CLEANER.register(owner, action(client, n));
    if (rc != null) {
      // One hook per client (its number makes the name unique); the hook
      // holds the Cleanable, which does not hold owner.
      rc.registerUserCodeClassLoaderReleaseHookIfAbsent("hotcold-sidecar-client-" + n, c::clean);
    }
    return c;
  }

  /**
   * The task's RuntimeContext behind a FunctionContext, or null when this
   * Flink's FunctionContext does not hold one where 2.3.0 does (a private
   * field "context": FunctionContext has no getter for it).
   */
  static RuntimeContext runtimeContext(FunctionContext fc) {
    try {
      Field f = FunctionContext.class.getDeclaredField("context");
      f.setAccessible(true);
      return f.get(fc) instanceof RuntimeContext rc ? rc : null;
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
  }

  private static Runnable action(AutoCloseable client, long n) {
    return () -> {
      try {
        client.close();
      } catch (Exception e) {
        // Closing a channel that is already broken: nothing left to free.
      } finally {
        synchronized (LOCK) {
          OPEN.remove(n);
          LOCK.notifyAll();
        }
      }
    };
  }

  /** The number of the last registration (0: none yet). */
  static long registered() {
    synchronized (LOCK) {
      return registered;
    }
  }

  /**
   * For tests: waits until no client registered after registration number
   * since is open, or rounds waits of up to 100 ms have passed, running the
   * garbage collector before each when gc is set; returns how many of those
   * clients are still open.
   */
  static int awaitClosed(long since, int rounds, boolean gc) throws InterruptedException {
    for (int i = 0; ; i++) {
      if (gc) {
        System.gc();
      }
      synchronized (LOCK) {
        int open = OPEN.tailSet(since, false).size();
        if (open == 0 || i == rounds) {
          return open;
        }
        LOCK.wait(100);
      }
    }
  }
}
