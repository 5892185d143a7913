package dev.hotcold.flink;

/**
 * {@code HOTCOLD_LEFT_JOIN}: {@link HotcoldJoin} as a left outer join. An
 * unmatched left row emits +I[L, null]; its first match -D[L, null] then
 * +I[L, R] (a retracting changelog: INSERT and DELETE). Only the right input
 * may be cold-backed ({@code cold_side} defaults to 'right').
 */
public class HotcoldLeftJoin extends HotcoldJoin {
  private static final long serialVersionUID = 1L;

  /** Table arguments `left` and `right`; options from job parameters and the environment (see HotcoldJoin.Options). */
  public HotcoldLeftJoin() {
    super(true, "left", "right", new HotcoldJoin.Options());
  }
}
