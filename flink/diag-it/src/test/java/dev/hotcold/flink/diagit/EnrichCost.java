package dev.hotcold.flink.diagit;

/** The hot method of {@link HotKeyJob}: CPU work the flame graph shows. */
final class EnrichCost {
  private EnrichCost() {}

  /** Mixes x for about HotKeyJob.COST_NANOS of CPU time. */
  static long enrich(long x) {
    long end = System.nanoTime() + HotKeyJob.COST_NANOS;
    long h = x;
    do {
      for (int i = 0; i < 4096; i++) {
        h ^= h << 13;
        h ^= h >>> 7;
        h ^= h << 17;
      }
    } while (System.nanoTime() < end);
    return h;
  }
}
