package dev.hotcold.flink;

import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.functions.ChangelogFunction;
import org.apache.flink.types.RowKind;

/**
 * {@code HOTCOLD_LEFT_JOIN}: {@link HotcoldJoin} as a left join, with the Go
 * join's changelog: a left row without a partner is emitted null-padded
 * (+I[L, NULL...]); its first partner retracts that row (-D) before the
 * joined one (+I), as Flink's own LEFT JOIN does. The cold table backs the
 * right input by default. Flink (2.2.1, and still 2.3.0:
 * StreamPhysicalProcessTableFunction.verifyOnTimeForUpdates) refuses
 * {@code on_time} for a PTF that produces updates, so the call has none:
 * each record's time is its input's rowtime column (the one with the
 * WATERMARK). The options are HotcoldJoin's call arguments.
 *
 * <pre>{@code
 * SELECT refund_id, order_id1 AS order_id, amount FROM HOTCOLD_LEFT_JOIN(
 *   refunds => TABLE refunds PARTITION BY order_id,
 *   orders => TABLE orders PARTITION BY order_id,
 *   cold_table => 'orders');
 * }</pre>
 */
public class HotcoldLeftJoin extends HotcoldJoin implements ChangelogFunction {
  private static final long serialVersionUID = 1L;

  /** Table arguments `left` and `right`; options from job parameters (hotcold.join.*) and the environment. */
  public HotcoldLeftJoin() {
    this("left", "right", new Options());
  }

  /** For registering from Java: the names of the two table arguments and the options, as HotcoldJoin's. */
  public HotcoldLeftJoin(String leftName, String rightName, Options options) {
    super(leftName, rightName, options, true);
  }

  @Override
  public ChangelogMode getChangelogMode(ChangelogContext changelogContext) {
    return ChangelogMode.newBuilder().addContainedKind(RowKind.INSERT).addContainedKind(RowKind.DELETE).build();
  }
}
