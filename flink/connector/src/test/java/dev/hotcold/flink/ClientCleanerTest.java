package dev.hotcold.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ClientCleanerTest {
  @Test
  void cleanClosesTheClientOnceAndAtOnce() throws Exception {
    AtomicInteger closes = new AtomicInteger();
    Object owner = new Object();
    long since = ClientCleaner.registered();
    var c = ClientCleaner.register(owner, closes::incrementAndGet, null);
    c.clean();
    c.clean();
    assertEquals(1, closes.get());
    // Once cleaned, the owner going away closes nothing more.
    owner = null;
    assertEquals(0, ClientCleaner.awaitClosed(since, 50, true));
    assertEquals(1, closes.get());
  }

  @Test
  void anUnreachableOwnerHasItsClientClosed() throws Exception {
    AtomicInteger closes = new AtomicInteger();
    long since = ClientCleaner.registered();
    register(closes);
    assertEquals(0, ClientCleaner.awaitClosed(since, 100, true), "clients still open");
    assertEquals(1, closes.get());
  }

  @Test
  void aFailingCloseStillCountsTheClientClosed() throws Exception {
    Object owner = new Object();
    long since = ClientCleaner.registered();
    var c = ClientCleaner.register(owner, () -> {
      throw new IllegalStateException("already broken");
    }, null);
    c.clean();
    assertEquals(0, ClientCleaner.awaitClosed(since, 0, false));
  }

  /** Registers a client whose owner is unreachable once this returns. */
  private static void register(AtomicInteger closes) {
    ClientCleaner.register(new Object(), closes::incrementAndGet, null);
  }
}
