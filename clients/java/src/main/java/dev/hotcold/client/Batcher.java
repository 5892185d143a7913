package dev.hotcold.client;

import io.grpc.Deadline;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Coalesces concurrent single-key lookups into BatchLookup calls.
 *
 * <p>A lookup is sent at once while fewer than {@code maxInFlight} batches
 * are in flight; otherwise it waits in a queue, and when a batch completes
 * the queue is sent as the next batches (up to {@code maxBatch} keys, one
 * call per table). So a lone caller pays no extra latency and many
 * concurrent callers share calls. There is no timer and no thread: sends
 * happen on the submitting thread or on the thread that completed a batch.
 *
 * <p>Thread-safe. The sender must call {@link #done()} exactly once for
 * every batch it is given, when that batch has completed.
 */
final class Batcher {
  /** One queued lookup. */
  static final class Pending {
    final String table;
    final dev.hotcold.lookup.v1.Key key;
    final Deadline deadline;
    final CompletableFuture<LookupResult> future = new CompletableFuture<>();

    Pending(String table, dev.hotcold.lookup.v1.Key key, Deadline deadline) {
      this.table = table;
      this.key = key;
      this.deadline = deadline;
    }
  }

  /** Sends one batch of lookups of one table. */
  interface Sender {
    void send(String table, List<Pending> batch);
  }

  private record Batch(String table, List<Pending> pending) {}

  private final int maxBatch;
  private final int maxInFlight;
  private final Sender sender;
  private final ArrayDeque<Pending> queue = new ArrayDeque<>();
  private int inFlight;
  private boolean closed;

  Batcher(int maxBatch, int maxInFlight, Sender sender) {
    this.maxBatch = maxBatch;
    this.maxInFlight = maxInFlight;
    this.sender = sender;
  }

  /** Queues a lookup; false when the batcher is closed. */
  boolean submit(Pending p) {
    List<Batch> ready;
    synchronized (this) {
      if (closed) {
        return false;
      }
      queue.add(p);
      ready = drainLocked();
    }
    dispatch(ready);
    return true;
  }

  /** Reports that a batch given to the sender has completed. */
  void done() {
    List<Batch> ready;
    synchronized (this) {
      inFlight--;
      ready = drainLocked();
    }
    dispatch(ready);
  }

  /** Stops batching and returns the lookups that were still queued. */
  synchronized List<Pending> close() {
    closed = true;
    List<Pending> left = new ArrayList<>(queue);
    queue.clear();
    return left;
  }

  private List<Batch> drainLocked() {
    List<Batch> out = null;
    while (inFlight < maxInFlight && !queue.isEmpty()) {
      Map<String, List<Pending>> byTable = new LinkedHashMap<>();
      int n = 0;
      while (n < maxBatch && !queue.isEmpty()) {
        Pending p = queue.poll();
        if (p.future.isDone()) {
          continue; // its deadline passed while it was queued
        }
        byTable.computeIfAbsent(p.table, t -> new ArrayList<>()).add(p);
        n++;
      }
      for (Map.Entry<String, List<Pending>> e : byTable.entrySet()) {
        if (out == null) {
          out = new ArrayList<>();
        }
        out.add(new Batch(e.getKey(), e.getValue()));
        inFlight++;
      }
    }
    return out;
  }

  private void dispatch(List<Batch> ready) {
    if (ready == null) {
      return;
    }
    for (Batch b : ready) {
      sender.send(b.table(), b.pending());
    }
  }
}
