package dev.hotcold.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hotcold.lookup.v1.Value;
import io.grpc.Deadline;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The batching policy, with a sender that records batches instead of calling. */
public class BatcherTest {
  private final List<String> sent = new ArrayList<>(); // "table:size" per batch
  private final List<List<Batcher.Pending>> batches = new ArrayList<>();

  private Batcher newBatcher(int maxBatch, int maxInFlight) {
    return new Batcher(maxBatch, maxInFlight, (table, batch) -> {
      sent.add(table + ":" + batch.size());
      batches.add(batch);
    });
  }

  private static Batcher.Pending pending(String table, long id) {
    dev.hotcold.lookup.v1.Key k = dev.hotcold.lookup.v1.Key.newBuilder().addValues(Value.newBuilder().setInt64Value(id)).build();
    return new Batcher.Pending(table, k, Deadline.after(1, TimeUnit.MINUTES));
  }

  @Test
  public void loneLookupIsSentAtOnce() {
    Batcher b = newBatcher(10, 2);
    b.submit(pending("t", 1));
    assertEquals(List.of("t:1"), sent);
  }

  @Test
  public void lookupsWaitingForASlotGoOutTogether() {
    Batcher b = newBatcher(10, 1);
    for (int i = 0; i < 25; i++) {
      b.submit(pending("t", i));
    }
    assertEquals(List.of("t:1"), sent);
    b.done();
    assertEquals(List.of("t:1", "t:10"), sent);
    b.done();
    b.done();
    assertEquals(List.of("t:1", "t:10", "t:10", "t:4"), sent);
    b.done();
    assertEquals(4, sent.size());
  }

  @Test
  public void oneBatchPerTable() {
    Batcher b = newBatcher(10, 1);
    b.submit(pending("a", 0));
    b.submit(pending("a", 1));
    b.submit(pending("b", 2));
    b.submit(pending("a", 3));
    b.done();
    assertEquals(List.of("a:1", "a:2", "b:1"), sent);
    assertEquals(3, batches.get(1).get(1).key.getValues(0).getInt64Value());
  }

  @Test
  public void lookupsDoneWhileQueuedAreNotSent() {
    Batcher b = newBatcher(10, 1);
    b.submit(pending("t", 0));
    Batcher.Pending p = pending("t", 1);
    b.submit(p);
    b.submit(pending("t", 2));
    p.future.completeExceptionally(new HotcoldException(io.grpc.Status.Code.DEADLINE_EXCEEDED, "late"));
    b.done();
    assertEquals(List.of("t:1", "t:1"), sent);
  }

  @Test
  public void closeReturnsTheQueueAndRefusesMore() {
    Batcher b = newBatcher(10, 1);
    b.submit(pending("t", 0));
    b.submit(pending("t", 1));
    assertEquals(1, b.close().size());
    assertFalse(b.submit(pending("t", 2)));
    assertTrue(sent.size() == 1);
  }
}
