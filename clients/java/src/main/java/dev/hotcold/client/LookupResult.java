package dev.hotcold.client;

import java.util.Optional;

/**
 * The answer for one key of a batch: whether it was found, the row when it
 * was, and the table version that answered.
 *
 * @param table the table the key was read from
 * @param found whether the key exists in the answering version
 * @param row the row when found, else null
 * @param version the table version that answered, e.g. "2026-11-22"
 */
public record LookupResult(String table, boolean found, Row row, String version) {
  /** The row, or empty when the key was not found. */
  public Optional<Row> optionalRow() {
    return Optional.ofNullable(row);
  }
}
