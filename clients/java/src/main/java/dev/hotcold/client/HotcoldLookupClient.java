package dev.hotcold.client;

import dev.hotcold.lookup.v1.BatchLookupRequest;
import dev.hotcold.lookup.v1.BatchLookupResponse;
import dev.hotcold.lookup.v1.DescribeTableRequest;
import dev.hotcold.lookup.v1.KeyRef;
import dev.hotcold.lookup.v1.ListTablesRequest;
import dev.hotcold.lookup.v1.LookupRequest;
import dev.hotcold.lookup.v1.LookupServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.ClientInterceptor;
import io.grpc.Deadline;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.File;
import javax.net.ssl.SSLException;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.netty.channel.EventLoopGroup;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;
import java.util.logging.Logger;

/**
 * A client of the hotcold lookup sidecar, for Flink UDFs and other JVM
 * callers.
 *
 * <pre>{@code
 * try (HotcoldLookupClient client = HotcoldLookupClient.newBuilder()
 *     .unixSocket("/run/hotcold/hotcold.sock")   // used when Netty's epoll transport loads
 *     .target("127.0.0.1:7070")                  // else TCP
 *     .token(System.getenv("HOTCOLD_TOKEN"))
 *     .build()) {
 *   Optional<Row> user = client.lookup("users", 42L);
 *   String name = user.map(r -> r.getString("name")).orElse(null);
 * }
 * }</pre>
 *
 * <h2>Calls</h2>
 * {@link #lookup} and {@link #batchLookup} block; {@link #lookupAsync} and
 * {@link #batchLookupAsync} return a {@link CompletableFuture} completed on a
 * gRPC thread (do not block in its callbacks). A missing key is an empty
 * result, never an exception. Batch results are in request order, one per
 * key. Rows are typed: see {@link Row}.
 *
 * <h2>Batching</h2>
 * With automatic batching (the default), concurrent single-key lookups from
 * any number of threads, e.g. the in-flight requests of a Flink async lookup
 * function, are sent together as BatchLookup calls: a lookup goes out at once
 * while fewer than {@link Builder#maxInFlightBatches(int)} batches are in
 * flight, and otherwise joins the next batch. A lone caller pays no extra
 * latency.
 *
 * <h2>Deadlines and retries</h2>
 * Every call has a deadline ({@link Builder#deadline(Duration)}, default 5s)
 * that bounds it as a whole, retries and time queued for a batch included.
 * Calls failing with {@code UNAVAILABLE} (the sidecar is restarting or not
 * reachable) are retried with exponential backoff and jitter while the
 * deadline allows, so a sidecar restart is ridden out. Failures are
 * {@link HotcoldException}s carrying the gRPC status code.
 *
 * <h2>Transport</h2>
 * A unix socket is used when one is configured and Netty's native epoll
 * transport loads (Linux with {@code io.netty:netty-transport-native-epoll},
 * classifier {@code linux-x86_64} or {@code linux-aarch_64}, on the
 * classpath); otherwise the TCP target is used. {@link #transport()} says
 * which.
 *
 * <h2>Lifecycle</h2>
 * A client is thread-safe and meant to be shared: create one per process or
 * per UDF instance in {@code open()}, and {@link #close()} it in
 * {@code close()}. Calls after close fail with {@code CANCELLED}.
 */
public final class HotcoldLookupClient implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(HotcoldLookupClient.class.getName());
  private static final AtomicInteger CLIENTS = new AtomicInteger();

  private final ManagedChannel channel;
  private final EventLoopGroup group; // the unix socket's event loop, else null
  private final Transport transport;
  private final String address;
  private final long deadlineNanos;
  private final int maxRetries;
  private final long initialBackoffNanos;
  private final long maxBackoffNanos;
  private final int maxBatch;
  private final IntConsumer batchListener; // null when none
  private final ScheduledThreadPoolExecutor scheduler;
  private final Batcher batcher; // null without automatic batching
  private final AtomicBoolean closed = new AtomicBoolean();
  // Schemas by table and version ("table\0version"); see schema().
  private final ConcurrentHashMap<String, CompletableFuture<Schema>> schemas = new ConcurrentHashMap<>();

  /** Returns a builder; set a target or a unix socket, and usually a token. */
  public static Builder newBuilder() {
    return new Builder();
  }

  /** Configures a {@link HotcoldLookupClient}. Not thread-safe. */
  public static final class Builder {
    private String target;
    private String unixSocket;
    private String token;
    private Duration deadline = Duration.ofSeconds(5);
    private int maxRetries = 10;
    private Duration initialBackoff = Duration.ofMillis(25);
    private Duration maxBackoff = Duration.ofSeconds(1);
    private boolean autoBatch = true;
    private int maxBatch = 256;
    private int maxInFlightBatches = 4;
    private IntConsumer batchListener;
    private String tlsCa;
    private String tlsCert;
    private String tlsKey;
    private String tlsServerName;
    private boolean tls;
    private int maxReceiveBytes = 64 << 20;

    private Builder() {}

    /**
     * Speaks TLS to the sidecar's TCP listener (its {@code --tls-cert}),
     * trusting the CA certificates of the PEM file caFile, or the JVM's
     * default trust store when caFile is null. Default: plaintext. The unix
     * socket is always plaintext.
     */
    public Builder tls(String caFile) {
      this.tls = true;
      this.tlsCa = caFile;
      return this;
    }

    /**
     * The client certificate (PEM) and its PKCS#8 PEM private key, for a
     * sidecar that requires mutual TLS (its {@code --tls-client-ca}).
     * Implies {@link #tls}. Default: none.
     */
    public Builder tlsClientCertificate(String certFile, String keyFile) {
      this.tls = true;
      this.tlsCert = certFile;
      this.tlsKey = keyFile;
      return this;
    }

    /**
     * The name the sidecar's certificate must carry, when it differs from
     * the target's host. Default: the target's host.
     */
    public Builder tlsServerName(String name) {
      this.tlsServerName = name;
      return this;
    }

    /**
     * The largest answer the client accepts, in bytes (the sidecar's
     * {@code --max-answer-size} bounds what it sends). Default: 64 MiB.
     */
    public Builder maxReceiveBytes(int n) {
      this.maxReceiveBytes = n;
      return this;
    }

    /**
     * The sidecar's TCP address, {@code "host:port"} (or any gRPC target such
     * as {@code "dns:///sidecar:7070"}). Used when no unix socket is set or
     * unix sockets are unavailable. Default: none.
     */
    public Builder target(String target) {
      this.target = target;
      return this;
    }

    /**
     * The path of the sidecar's unix socket (its {@code --unix}). Preferred
     * over the TCP target when Netty's native epoll transport loads. Default:
     * none.
     */
    public Builder unixSocket(String path) {
      this.unixSocket = path;
      return this;
    }

    /**
     * The job's bearer token, sent as {@code authorization: Bearer <token>}
     * with every call. Default: none (for a sidecar without jobs).
     */
    public Builder token(String token) {
      this.token = token;
      return this;
    }

    /**
     * Bounds every call as a whole: retries, backoff and time queued for a
     * batch included. Default: 5s.
     */
    public Builder deadline(Duration deadline) {
      this.deadline = deadline;
      return this;
    }

    /**
     * How often a call failing with {@code UNAVAILABLE} is retried, and the
     * backoff between attempts: {@code initial}, doubling up to {@code max},
     * with 20% jitter; the deadline still bounds the call. Default: 10
     * retries, 25ms, 1s (enough to ride out a sidecar restart within the
     * default deadline).
     */
    public Builder retries(int maxRetries, Duration initial, Duration max) {
      this.maxRetries = maxRetries;
      this.initialBackoff = initial;
      this.maxBackoff = max;
      return this;
    }

    /**
     * Whether concurrent single-key lookups are coalesced into BatchLookup
     * calls (see the class comment). Default: true.
     */
    public Builder autoBatch(boolean on) {
      this.autoBatch = on;
      return this;
    }

    /**
     * The most keys sent in one BatchLookup call, by automatic batching and
     * by {@link #batchLookup} (larger batches are split). Must not exceed the
     * sidecar's {@code max_batch}. Default: 256.
     */
    public Builder maxBatch(int n) {
      this.maxBatch = n;
      return this;
    }

    /**
     * How many automatic batches may be in flight at once; more lookups wait
     * and are sent together. Default: 4.
     */
    public Builder maxInFlightBatches(int n) {
      this.maxInFlightBatches = n;
      return this;
    }

    /**
     * Called with the number of keys of every BatchLookup call the client
     * sends (automatic batches and the parts of {@link #batchLookup}), before
     * it is sent, e.g. to feed a batch-size histogram. It runs on the
     * sending thread: keep it short. Default: none.
     */
    public Builder batchListener(IntConsumer listener) {
      this.batchListener = listener;
      return this;
    }

    /**
     * Builds the client. It does not connect yet: the first call does.
     *
     * @throws IllegalArgumentException naming every invalid setting
     * @throws IllegalStateException when only a unix socket is set and unix
     *     sockets are unavailable here
     */
    public HotcoldLookupClient build() {
      List<String> problems = new ArrayList<>();
      if (empty(target) && empty(unixSocket)) {
        problems.add("set target(\"host:port\") or unixSocket(\"/path/to/hotcold.sock\")");
      }
      if (token != null) {
        if (token.isEmpty()) {
          problems.add("token is empty: pass the job's token, or do not call token()");
        }
        for (char c : token.toCharArray()) {
          if (c < 0x20 || c > 0x7e) {
            problems.add("token has a character that cannot be sent in a header (a newline from a token file?)");
            break;
          }
        }
      }
      if (deadline == null || deadline.isZero() || deadline.isNegative()) {
        problems.add("deadline " + deadline + ": must be positive");
      }
      if (maxRetries < 0) {
        problems.add("retries: maxRetries " + maxRetries + " must not be negative");
      }
      if (initialBackoff == null || initialBackoff.isNegative() || initialBackoff.isZero()) {
        problems.add("retries: initial backoff " + initialBackoff + " must be positive");
      } else if (maxBackoff == null || maxBackoff.compareTo(initialBackoff) < 0) {
        problems.add("retries: max backoff " + maxBackoff + " must be at least the initial backoff " + initialBackoff);
      }
      if (maxBatch < 1) {
        problems.add("maxBatch " + maxBatch + ": must be positive");
      }
      if (maxInFlightBatches < 1) {
        problems.add("maxInFlightBatches " + maxInFlightBatches + ": must be positive");
      }
      if (maxReceiveBytes < 1) {
        problems.add("maxReceiveBytes " + maxReceiveBytes + ": must be positive");
      }
      for (String[] f : new String[][] {{"tls CA file", tlsCa}, {"tls client certificate", tlsCert}, {"tls client key", tlsKey}}) {
        if (f[1] != null && !new File(f[1]).canRead()) {
          problems.add(f[0] + " " + f[1] + ": cannot be read");
        }
      }
      if ((tlsCert == null) != (tlsKey == null)) {
        problems.add("tlsClientCertificate needs both the certificate and the key file");
      }
      if (!problems.isEmpty()) {
        throw new IllegalArgumentException("hotcold client: " + String.join("; ", problems));
      }
      return new HotcoldLookupClient(this);
    }

    private static boolean empty(String s) {
      return s == null || s.isEmpty();
    }
  }

  private HotcoldLookupClient(Builder b) {
    this.deadlineNanos = b.deadline.toNanos();
    this.maxRetries = b.maxRetries;
    this.initialBackoffNanos = b.initialBackoff.toNanos();
    this.maxBackoffNanos = b.maxBackoff.toNanos();
    this.maxBatch = b.maxBatch;
    this.batchListener = b.batchListener;

    int id = CLIENTS.incrementAndGet();
    ThreadFactory threads = daemonThreads("hotcold-client-" + id);
    Metadata headers = new Metadata();
    if (b.token != null) {
      headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + b.token);
    }
    ClientInterceptor auth = MetadataUtils.newAttachHeadersInterceptor(headers);
    int maxReceive = b.maxReceiveBytes;

    String why = Builder.empty(b.unixSocket) ? null : EpollSupport.unavailability();
    if (!Builder.empty(b.unixSocket) && why == null) {
      EpollSupport.Opened o = EpollSupport.open(b.unixSocket, threads, nb -> configure(nb, auth, maxReceive).usePlaintext());
      this.channel = o.channel();
      this.group = o.group();
      this.transport = Transport.UNIX;
      this.address = "unix:" + b.unixSocket;
    } else if (!Builder.empty(b.target)) {
      if (why != null) {
        LOG.warning("hotcold: not using the unix socket " + b.unixSocket + " (" + why + "); using TCP " + b.target);
      }
      this.channel = tcpTransport(configure(NettyChannelBuilder.forTarget(b.target), auth, maxReceive), b).build();
      this.group = null;
      this.transport = Transport.TCP;
      this.address = b.target;
    } else {
      throw new IllegalStateException(
          "hotcold client: cannot use the unix socket " + b.unixSocket + ": " + why
              + ". Add io.netty:netty-transport-native-epoll (classifier linux-x86_64) to the classpath,"
              + " or also set target(\"127.0.0.1:PORT\") to fall back to the sidecar's TCP listener");
    }

    this.scheduler = new ScheduledThreadPoolExecutor(1, threads);
    this.scheduler.setRemoveOnCancelPolicy(true);
    this.batcher = b.autoBatch ? new Batcher(b.maxBatch, b.maxInFlightBatches, this::sendBatch) : null;
  }

  private static NettyChannelBuilder configure(NettyChannelBuilder b, ClientInterceptor auth, int maxReceive) {
    return b.maxInboundMessageSize(maxReceive).intercept(auth);
  }

  private static NettyChannelBuilder tcpTransport(NettyChannelBuilder nb, Builder b) {
    if (!b.tls) {
      return nb.usePlaintext();
    }
    try {
      SslContextBuilder ssl = GrpcSslContexts.forClient();
      if (b.tlsCa != null) {
        ssl.trustManager(new File(b.tlsCa));
      }
      if (b.tlsCert != null) {
        ssl.keyManager(new File(b.tlsCert), new File(b.tlsKey));
      }
      SslContext ctx = ssl.build();
      nb.useTransportSecurity().sslContext(ctx);
      if (b.tlsServerName != null) {
        nb.overrideAuthority(b.tlsServerName);
      }
      return nb;
    } catch (SSLException | IllegalArgumentException e) {
      throw new IllegalArgumentException("hotcold client: TLS files (CA " + b.tlsCa + ", certificate " + b.tlsCert
          + ", key " + b.tlsKey + "): " + e.getMessage() + " (keys must be PKCS#8 PEM: openssl pkcs8 -topk8 -nocrypt)", e);
    }
  }

  private static ThreadFactory daemonThreads(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  /** Which transport the client uses. */
  public Transport transport() {
    return transport;
  }

  /** The address the client talks to: {@code "unix:/path"} or the TCP target. */
  public String address() {
    return address;
  }

  // ---- single-key lookups ----

  /**
   * Looks up one key, blocking until the answer or the deadline.
   *
   * @param table the table name
   * @param key the key column values in key order (or one {@link Key})
   * @return the row, or empty when the key is not in the table
   * @throws HotcoldException on failure (see its codes)
   */
  public Optional<Row> lookup(String table, Object... key) {
    return await(lookupAsync(table, key));
  }

  /**
   * Looks up one key without blocking. With automatic batching the lookup
   * shares a BatchLookup call with concurrent lookups.
   *
   * @return a future of the row, or of empty when the key is not in the
   *     table; it fails with a {@link HotcoldException}
   */
  public CompletableFuture<Optional<Row>> lookupAsync(String table, Object... key) {
    return single(table, key).thenApply(LookupResult::optionalRow);
  }

  /** Like {@link #lookupAsync} but with the answering version of a missing key too. */
  public CompletableFuture<LookupResult> lookupResultAsync(String table, Object... key) {
    return single(table, key);
  }

  private CompletableFuture<LookupResult> single(String table, Object[] key) {
    dev.hotcold.lookup.v1.Key pk;
    try {
      checkUsable(table);
      Object[] vals = key.length == 1 && key[0] instanceof Key ? ((Key) key[0]).raw() : key;
      pk = Values.key(table, vals);
    } catch (HotcoldException e) {
      return CompletableFuture.failedFuture(e);
    }
    Deadline d = Deadline.after(deadlineNanos, TimeUnit.NANOSECONDS);
    if (batcher != null) {
      Batcher.Pending p = new Batcher.Pending(table, pk, d);
      try {
        ScheduledFuture<?> timer =
            scheduler.schedule(
                () -> p.future.completeExceptionally(deadlineExceeded("Lookup " + table, "before the answer came (" + Duration.ofNanos(deadlineNanos) + ")")),
                d.timeRemaining(TimeUnit.NANOSECONDS),
                TimeUnit.NANOSECONDS);
        p.future.whenComplete((r, e) -> timer.cancel(false));
      } catch (RejectedExecutionException e) {
        return CompletableFuture.failedFuture(closedError());
      }
      if (!batcher.submit(p)) {
        p.future.completeExceptionally(closedError());
      }
      return p.future;
    }
    String what = "Lookup " + table;
    LookupRequest req = LookupRequest.newBuilder().setTable(table).setKey(pk).build();
    return call(LookupServiceGrpc.getLookupMethod(), req, d, what)
        .thenCompose(resp -> {
          if (!resp.getFound()) {
            return CompletableFuture.completedFuture(new LookupResult(table, false, null, resp.getVersion()));
          }
          return schema(table, resp.getVersion(), d)
              .thenApply(s -> new LookupResult(table, true, Values.row(s, resp.getVersion(), resp.getRow()), resp.getVersion()));
        });
  }

  /** Sends one automatic batch; called by the batcher. */
  private void sendBatch(String table, List<Batcher.Pending> batch) {
    Deadline d = batch.get(0).deadline;
    for (Batcher.Pending p : batch) {
      d = d.minimum(p.deadline);
    }
    List<dev.hotcold.lookup.v1.Key> keys = new ArrayList<>(batch.size());
    for (Batcher.Pending p : batch) {
      keys.add(p.key);
    }
    CompletableFuture<List<LookupResult>> call;
    try {
      call = batchCall(table, keys, d);
    } catch (RuntimeException e) {
      call = CompletableFuture.failedFuture(e);
    }
    call.whenComplete((results, err) -> {
      // Free the slot first, so that the next batch goes out before
      // this one's callers run (and so a caller that is done sees it).
      batcher.done();
      if (err == null) {
        for (int i = 0; i < batch.size(); i++) {
          batch.get(i).future.complete(results.get(i));
        }
        return;
      }
      HotcoldException e = HotcoldException.from(unwrap(err), "BatchLookup " + table);
      if (e.code() == Status.Code.INVALID_ARGUMENT && batch.size() > 1) {
        // One bad key fails a whole batch: send each key alone so that
        // only its own caller gets the error.
        for (Batcher.Pending p : batch) {
          batchCall(table, List.of(p.key), p.deadline)
              .whenComplete((r, e1) -> {
                if (e1 != null) {
                  p.future.completeExceptionally(HotcoldException.from(unwrap(e1), "Lookup " + table));
                } else {
                  p.future.complete(r.get(0));
                }
              });
        }
        return;
      }
      for (Batcher.Pending p : batch) {
        p.future.completeExceptionally(e);
      }
    });
  }

  // ---- batch lookups ----

  /**
   * Looks up many keys of one table, blocking. Each element of {@code keys}
   * is a {@link Key} or, for a one-column key, the plain value.
   *
   * @return one result per key, in request order
   * @throws HotcoldException on failure (see its codes)
   */
  public List<LookupResult> batchLookup(String table, List<?> keys) {
    return await(batchLookupAsync(table, keys));
  }

  /**
   * Looks up many keys of one table without blocking, in BatchLookup calls
   * of at most {@link Builder#maxBatch(int)} keys. The results of one call
   * come from one version of the table; when the keys are split over several
   * calls, each result says its version.
   *
   * @return a future of one result per key, in request order
   */
  public CompletableFuture<List<LookupResult>> batchLookupAsync(String table, List<?> keys) {
    List<dev.hotcold.lookup.v1.Key> pks = new ArrayList<>(keys.size());
    try {
      checkUsable(table);
      for (int i = 0; i < keys.size(); i++) {
        pks.add(Values.key(table, keys.get(i), i));
      }
    } catch (HotcoldException e) {
      return CompletableFuture.failedFuture(e);
    }
    if (pks.isEmpty()) {
      return CompletableFuture.completedFuture(List.of());
    }
    Deadline d = Deadline.after(deadlineNanos, TimeUnit.NANOSECONDS);
    List<CompletableFuture<List<LookupResult>>> parts = new ArrayList<>();
    for (int i = 0; i < pks.size(); i += maxBatch) {
      parts.add(batchCall(table, pks.subList(i, Math.min(pks.size(), i + maxBatch)), d));
    }
    if (parts.size() == 1) {
      return parts.get(0);
    }
    return CompletableFuture.allOf(parts.toArray(new CompletableFuture<?>[0]))
        .thenApply(v -> {
          List<LookupResult> out = new ArrayList<>(pks.size());
          for (CompletableFuture<List<LookupResult>> p : parts) {
            out.addAll(p.join());
          }
          return Collections.unmodifiableList(out);
        });
  }

  /** One BatchLookup call of keys of one table, with rows converted. */
  private CompletableFuture<List<LookupResult>> batchCall(String table, List<dev.hotcold.lookup.v1.Key> keys, Deadline d) {
    BatchLookupRequest.Builder req = BatchLookupRequest.newBuilder().setTable(table);
    for (dev.hotcold.lookup.v1.Key k : keys) {
      req.addKeys(KeyRef.newBuilder().setKey(k));
    }
    String what = "BatchLookup " + table;
    if (batchListener != null) {
      batchListener.accept(keys.size());
    }
    return call(LookupServiceGrpc.getBatchLookupMethod(), req.build(), d, what)
        .thenCompose(resp -> results(table, keys.size(), resp, d, what));
  }

  private CompletableFuture<List<LookupResult>> results(String table, int n, BatchLookupResponse resp, Deadline d, String what) {
    if (resp.getResultsCount() != n) {
      return CompletableFuture.failedFuture(
          new HotcoldException(Status.Code.INTERNAL, what + ": the sidecar answered " + n + " keys with " + resp.getResultsCount() + " results"));
    }
    String version = null;
    for (dev.hotcold.lookup.v1.LookupResult r : resp.getResultsList()) {
      if (r.getFound()) {
        version = r.getVersion();
        break;
      }
    }
    CompletableFuture<Schema> schema = version == null ? CompletableFuture.completedFuture(null) : schema(table, version, d);
    return schema.thenApply(s -> {
      List<LookupResult> out = new ArrayList<>(n);
      for (dev.hotcold.lookup.v1.LookupResult r : resp.getResultsList()) {
        Row row = r.getFound() ? Values.row(s, r.getVersion(), r.getRow()) : null;
        out.add(new LookupResult(table, r.getFound(), row, r.getVersion()));
      }
      return Collections.unmodifiableList(out);
    });
  }

  // ---- tables ----

  /** Describes a table's live version: schema, row count, watermark. */
  public TableInfo describeTable(String table) {
    return await(describeTableAsync(table));
  }

  /** Like {@link #describeTable} without blocking. */
  public CompletableFuture<TableInfo> describeTableAsync(String table) {
    try {
      checkUsable(table);
    } catch (HotcoldException e) {
      return CompletableFuture.failedFuture(e);
    }
    return describe(table, Deadline.after(deadlineNanos, TimeUnit.NANOSECONDS)).thenApply(TableInfo::fromProto);
  }

  /** Describes every table the job may read. */
  public List<TableInfo> listTables() {
    if (closed.get()) {
      throw closedError();
    }
    Deadline d = Deadline.after(deadlineNanos, TimeUnit.NANOSECONDS);
    return await(
        call(LookupServiceGrpc.getListTablesMethod(), ListTablesRequest.getDefaultInstance(), d, "ListTables")
            .thenApply(resp -> {
              List<TableInfo> out = new ArrayList<>();
              for (dev.hotcold.lookup.v1.TableInfo t : resp.getTablesList()) {
                out.add(TableInfo.fromProto(t));
              }
              return Collections.unmodifiableList(out);
            }));
  }

  private CompletableFuture<dev.hotcold.lookup.v1.TableInfo> describe(String table, Deadline d) {
    return call(LookupServiceGrpc.getDescribeTableMethod(), DescribeTableRequest.newBuilder().setTable(table).build(), d, "DescribeTable " + table)
        .thenApply(resp -> resp.getTable());
  }

  /**
   * The schema for rows of a table version, fetched once per version with
   * DescribeTable (concurrent callers share the fetch). When the live version
   * has moved on meanwhile, the live schema is used for the older version
   * too: hotcold only appends columns between versions.
   */
  private CompletableFuture<Schema> schema(String table, String version, Deadline d) {
    String key = table + '\0' + version;
    for (;;) {
      CompletableFuture<Schema> cur = schemas.get(key);
      if (cur != null && !cur.isCompletedExceptionally()) {
        return cur;
      }
      CompletableFuture<Schema> next = new CompletableFuture<>();
      boolean mine = cur == null ? schemas.putIfAbsent(key, next) == null : schemas.replace(key, cur, next);
      if (!mine) {
        continue;
      }
      if (schemas.size() > 4096) {
        // Versions come and go daily; a long-lived client forgets old ones.
        schemas.keySet().removeIf(k -> !k.equals(key));
      }
      describe(table, d)
          .whenComplete((t, err) -> {
            if (err != null) {
              schemas.remove(key, next);
              next.completeExceptionally(unwrap(err));
              return;
            }
            Schema s = Schema.fromProto(t);
            next.complete(s);
            schemas.putIfAbsent(table + '\0' + s.version(), CompletableFuture.completedFuture(s));
          });
      return next;
    }
  }

  // ---- calls, retries, errors ----

  /** A unary call with the deadline d, retried on UNAVAILABLE with backoff. */
  private <Q, R> CompletableFuture<R> call(MethodDescriptor<Q, R> method, Q req, Deadline d, String what) {
    CompletableFuture<R> f = new CompletableFuture<>();
    attempt(method, req, d, what, 0, f);
    return f;
  }

  private <Q, R> void attempt(MethodDescriptor<Q, R> method, Q req, Deadline d, String what, int n, CompletableFuture<R> f) {
    if (closed.get()) {
      f.completeExceptionally(closedError());
      return;
    }
    if (d.isExpired()) {
      f.completeExceptionally(deadlineExceeded(what, n == 0 ? "before it was sent" : "after " + n + " attempts"));
      return;
    }
    ClientCalls.asyncUnaryCall(
        channel.newCall(method, CallOptions.DEFAULT.withDeadline(d)),
        req,
        new StreamObserver<R>() {
          private R value;

          @Override
          public void onNext(R v) {
            value = v;
          }

          @Override
          public void onError(Throwable t) {
            Status s = Status.fromThrowable(t);
            if (s.getCode() == Status.Code.UNAVAILABLE && n < maxRetries && !closed.get()) {
              long base = initialBackoffNanos;
              for (int i = 0; i < n && base < maxBackoffNanos; i++) {
                base *= 2;
              }
              base = Math.min(base, maxBackoffNanos);
              long delay = (long) (base * (0.8 + 0.4 * ThreadLocalRandom.current().nextDouble()));
              if (d.timeRemaining(TimeUnit.NANOSECONDS) > delay) {
                // Reconnect at once instead of waiting out gRPC's own
                // reconnect backoff (up to 2 minutes) after a restart.
                channel.resetConnectBackoff();
                try {
                  scheduler.schedule(() -> attempt(method, req, d, what, n + 1, f), delay, TimeUnit.NANOSECONDS);
                  return;
                } catch (RejectedExecutionException e) {
                  f.completeExceptionally(closedError());
                  return;
                }
              }
            }
            String msg = what + (n > 0 ? " (after " + (n + 1) + " attempts)" : "");
            f.completeExceptionally(HotcoldException.from(t, msg));
          }

          @Override
          public void onCompleted() {
            f.complete(value);
          }
        });
  }

  private static HotcoldException deadlineExceeded(String what, String when) {
    return new HotcoldException(Status.Code.DEADLINE_EXCEEDED, what + ": the client's deadline passed " + when);
  }

  private static HotcoldException closedError() {
    return new HotcoldException(Status.Code.CANCELLED, "the client is closed");
  }

  private void checkUsable(String table) {
    if (closed.get()) {
      throw closedError();
    }
    if (table == null || table.isEmpty()) {
      throw new HotcoldException(Status.Code.INVALID_ARGUMENT, "table: the table name is empty");
    }
  }

  private static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  private static <T> T await(CompletableFuture<T> f) {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new HotcoldException(Status.Code.CANCELLED, "interrupted while waiting for the sidecar", e);
    } catch (ExecutionException e) {
      Throwable c = unwrap(e);
      if (c instanceof HotcoldException) {
        throw ((HotcoldException) c).rethrownHere();
      }
      throw new HotcoldException(Status.Code.INTERNAL, String.valueOf(c), c);
    }
  }

  /**
   * Closes the client: queued lookups fail with {@code CANCELLED}, calls in
   * flight get up to 5 seconds to finish, then the connection is closed.
   * Idempotent.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    if (batcher != null) {
      for (Batcher.Pending p : batcher.close()) {
        p.future.completeExceptionally(closedError());
      }
    }
    // Delayed retries still run (and fail their calls as closed); the
    // scheduler's daemon thread ends after the last of them.
    scheduler.shutdown();
    channel.shutdown();
    try {
      if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
        channel.shutdownNow();
      }
    } catch (InterruptedException e) {
      channel.shutdownNow();
      Thread.currentThread().interrupt();
    }
    if (group != null) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
  }
}
