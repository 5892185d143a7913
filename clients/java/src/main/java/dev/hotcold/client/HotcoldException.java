package dev.hotcold.client;

import io.grpc.Status;

/**
 * A failed lookup. {@link #code()} is the gRPC status code of the failure,
 * as documented in the lookup API: {@code INVALID_ARGUMENT} (a bad key or
 * table name; the message names the field), {@code NOT_FOUND} (no such
 * table), {@code UNAUTHENTICATED} (missing or unknown token),
 * {@code PERMISSION_DENIED} (table not granted to the job),
 * {@code RESOURCE_EXHAUSTED} (the job's rate limit), {@code DEADLINE_EXCEEDED}
 * (the client's deadline passed, retries included), {@code UNAVAILABLE} (the
 * sidecar could not be reached within the retries) and {@code CANCELLED}
 * (the client was closed or the calling thread interrupted).
 *
 * <p>A missing key is not an exception: it is an empty result.
 */
public final class HotcoldException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Status.Code code;

  /** Creates an exception with a code and a message saying what to do. */
  public HotcoldException(Status.Code code, String message) {
    this(code, message, null);
  }

  /** Creates an exception with a code, a message and the underlying cause. */
  public HotcoldException(Status.Code code, String message, Throwable cause) {
    super("hotcold: " + code + ": " + message, cause);
    this.code = code;
  }

  /** The gRPC status code of the failure. */
  public Status.Code code() {
    return code;
  }

  /** Converts a gRPC failure of the call {@code what} (e.g. "BatchLookup orders"). */
  static HotcoldException from(Throwable t, String what) {
    if (t instanceof HotcoldException) {
      return (HotcoldException) t;
    }
    Status s = Status.fromThrowable(t);
    String desc = s.getDescription() != null ? s.getDescription() : String.valueOf(t);
    return new HotcoldException(s.getCode(), what + ": " + desc, t);
  }

  /**
   * The same failure with the stack trace of the thread that waited for it,
   * so a blocking caller sees where it called from; the original (thrown on a
   * gRPC thread) is the cause.
   */
  HotcoldException rethrownHere() {
    String msg = getMessage();
    String prefix = "hotcold: " + code + ": ";
    return new HotcoldException(code, msg.startsWith(prefix) ? msg.substring(prefix.length()) : msg, this);
  }
}
