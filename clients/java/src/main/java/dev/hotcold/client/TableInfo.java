package dev.hotcold.client;

import java.time.Instant;

/**
 * The live version of a table, as described by the sidecar.
 *
 * @param schema the columns and key of the live version (its table name and
 *     version included)
 * @param rowCount the number of rows in the live version
 * @param coversUntil every row with an event time before it is in this
 *     version; null when unknown
 * @param loadedAt when the live version was published; null when unknown
 */
public record TableInfo(Schema schema, long rowCount, Instant coversUntil, Instant loadedAt) {
  /** The table name. */
  public String name() {
    return schema.table();
  }

  /** The live version, e.g. "2026-11-22". */
  public String version() {
    return schema.version();
  }

  static TableInfo fromProto(dev.hotcold.lookup.v1.TableInfo t) {
    return new TableInfo(
        Schema.fromProto(t),
        t.getRowCount(),
        t.hasCoversUntil() ? Instant.ofEpochSecond(t.getCoversUntil().getSeconds(), t.getCoversUntil().getNanos()) : null,
        t.hasLoadedAt() ? Instant.ofEpochSecond(t.getLoadedAt().getSeconds(), t.getLoadedAt().getNanos()) : null);
  }
}
