package dev.hotcold.flink;

import dev.hotcold.client.HotcoldException;
import dev.hotcold.client.HotcoldLookupClient;
import dev.hotcold.client.Key;
import dev.hotcold.client.Schema;
import dev.hotcold.client.TableInfo;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import org.apache.flink.metrics.Counter;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.catalog.DataTypeFactory;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ProcessTableFunction;
import org.apache.flink.table.functions.SpecializedFunction;
import org.apache.flink.table.functions.UserDefinedFunction;
import org.apache.flink.table.functions.TableSemantics;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.inference.CallContext;
import org.apache.flink.table.types.inference.StateTypeStrategy;
import org.apache.flink.table.types.inference.StaticArgument;
import org.apache.flink.table.types.inference.StaticArgumentTrait;
import org.apache.flink.table.types.inference.TypeInference;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.utils.LogicalTypeUtils;
import org.apache.flink.table.types.utils.TypeConversions;
import org.apache.flink.types.Row;

/**
 * {@code HOTCOLD_JOIN}: hotcold's hot/cold stream-stream inner join (the Go
 * package join's semantics) as a Flink process table function over two
 * append-only tables partitioned by the join key. Rows are kept in Flink
 * state bucketed by event-time day; an event-time timer drops a bucket once
 * it is older than the retention, and a bucket of the cold-backed input only
 * once the cold table's covers-until (DescribeTable) has also passed its
 * end. A record whose partner on the cold-backed side is not in state looks
 * its key up in the cold table through the sidecar.
 *
 * <pre>{@code
 * tEnv.createTemporarySystemFunction("HOTCOLD_JOIN", new HotcoldJoin("orders", "refunds", new HotcoldJoin.Options()));
 * SELECT order_id1 AS order_id, amount, refund_id, refund_ts FROM HOTCOLD_JOIN(
 *   orders => TABLE orders PARTITION BY order_id,
 *   refunds => TABLE refunds PARTITION BY order_id,
 *   cold_table => 'orders', address => 'unix:///run/hotcold/hotcold.sock',
 *   token_file => '/etc/hotcold/job.token',
 *   on_time => DESCRIPTOR(order_ts, refund_ts));
 * }</pre>
 *
 * <p>The options are optional scalar arguments of the call ({@link #ARGS};
 * literals), else the {@link Options} given to the constructor, else the job
 * parameters {@code hotcold.join.*}, else the environment (a call argument
 * wins). From SQL alone, {@code CREATE FUNCTION HOTCOLD_JOIN AS
 * 'dev.hotcold.flink.HotcoldJoin'} names the table arguments {@code left}
 * and {@code right}. (Flink 2.2.1 refused any scalar argument next to two
 * table arguments; 2.3.0's SystemTypeInference.checkMultipleTableArgs
 * checks only the table arguments for set semantics.)
 *
 * <p>Semantics (as package join, inner): a record joins every stored row of
 * the other input with the same key and is then stored; +I[L, R] for each
 * pair. A NULL key never matches. A cold row answers a lookup only when its
 * event-time day is older than the hot window (the current watermark's day
 * and the retention-1 days before it; never earlier than a window the key
 * already saw, the window of the record's own day or advance_to's). A
 * stored row that joined a cold row is flagged, and the cold-backed input's
 * own record of that key arriving later does not pair with it again (the
 * cold table has one row per key: that record is the cold row). Records
 * older than the window are stored too (until the next timer) instead of
 * being joined only. The sidecar failing fails the job, never a miss.
 *
 * <p>The output columns are every column of the left table then every
 * column of the right one, after Flink's own prefix (the PARTITION BY column
 * of each table, as Flink fills them) and before its {@code rowtime}; a right column named like a left one gets the
 * suffix {@code _right}, and Flink suffixes names that clash with its prefix
 * ({@code order_id} becomes {@code order_id1}).
 */
public class HotcoldJoin extends ProcessTableFunction<Row> implements SpecializedFunction, Cloneable {
  private static final long serialVersionUID = 1L;

  static final long DAY_MS = 86_400_000L;
  /** How often (processing time) a subtask re-reads the cold table's covers-until. */
  static final Duration COVERAGE_REFRESH = Duration.ofSeconds(10);
  /** An uncovered bucket is checked again this much event time later. */
  static final long RECHECK_MS = 3_600_000L;

  static final String METRIC_COLD_LOOKUPS = "coldLookups", METRIC_COLD_HITS = "coldHits", METRIC_EXPIRED = "expiredRows",
      METRIC_KEPT_UNCOVERED = "keptUncovered";

  static final int LEFT = 0, RIGHT = 1;
  private static final String[] SIDE = {"left", "right"};

  // State per key: ROW<s BYTES>, EntryCodec.Hot: the window floor and each
  // input's stored rows as EntryCodec's compact entries (event-time day,
  // whether it joined a cold row, in a left join's left input whether its
  // null-padded row is the current output, the row). One field: Flink's
  // BinaryRowData spends an 8-byte slot on each.

  private final String leftName, rightName;
  private final Options options;
  private final boolean leftJoin;
  /**
   * The call's option arguments (as resolve takes them) when the planner
   * specialized this instance for its call (specialize), else null: then
   * they are known from the first record on.
   */
  private String[] planned;

  private transient Cold cold;
  private transient Counter coldLookups, coldHits, expired, keptUncovered;

  /**
   * The join's options. Each one not set here is read from the job parameter
   * {@code hotcold.join.NAME} ({@code SET 'pipeline.global-job-parameters' =
   * 'hotcold.join.cold_table:orders,...'}), and the sidecar's from the
   * environment (HOTCOLD_ADDRESS, HOTCOLD_TOKEN_FILE, HOTCOLD_TOKEN).
   */
  public static final class Options implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    String coldTable, coldSide, address, tokenFile, token, advanceTo;
    String tlsCa, tlsCert, tlsKey, tlsServerName;
    Boolean tls;
    Integer retentionDays;

    /** The cold table backing one input, keyed by the PARTITION BY columns (job parameter hotcold.join.cold_table). */
    public Options coldTable(String table) {
      this.coldTable = table;
      return this;
    }

    /** Which input the cold table backs: 'left'/'right' or the table argument's name (default: left; right in a left join). */
    public Options coldSide(String side) {
      this.coldSide = side;
      return this;
    }

    /** Days of hot state: the watermark's day and the days before it (default 2). */
    public Options retentionDays(int days) {
      this.retentionDays = days;
      return this;
    }

    /** The sidecar: unix:///path/hotcold.sock or host:port. */
    public Options address(String address) {
      this.address = address;
      return this;
    }

    /** A file holding the job's token (read on each TaskManager). */
    public Options tokenFile(String path) {
      this.tokenFile = path;
      return this;
    }

    /** The job's token itself. */
    public Options token(String token) {
      this.token = token;
      return this;
    }

    /**
     * Speak TLS to a host:port sidecar (its --tls-cert), trusting the JVM's
     * trust store unless tlsCa is set (job parameter hotcold.join.tls; implied
     * by every other tls setting).
     */
    public Options tls(boolean tls) {
      this.tls = tls;
      return this;
    }

    /** PEM file of the CAs that sign the sidecar's certificate (job parameter hotcold.join.tls.ca). */
    public Options tlsCa(String path) {
      this.tlsCa = path;
      return this;
    }

    /** The client certificate (PEM) for a sidecar with --tls-client-ca, with tlsKey (job parameter hotcold.join.tls.cert). */
    public Options tlsCert(String path) {
      this.tlsCert = path;
      return this;
    }

    /** The client certificate's PKCS#8 PEM key (job parameter hotcold.join.tls.key). */
    public Options tlsKey(String path) {
      this.tlsKey = path;
      return this;
    }

    /** The name the sidecar's certificate must carry, when not the address's host (job parameter hotcold.join.tls.server_name). */
    public Options tlsServerName(String name) {
      this.tlsServerName = name;
      return this;
    }

    /**
     * The watermark is at least this instant's day (a date 2026-11-22 or an
     * RFC 3339 instant): a new job that reads only the last retention_days of
     * its inputs passes the time it starts at, so that older rows come from
     * the cold table (as join.Operator.Advance).
     */
    public Options advanceTo(String instant) {
      this.advanceTo = instant;
      return this;
    }
  }

  /**
   * The optional scalar arguments of the call, in order (each a literal; a
   * NULL or absent one falls back to Options, then the job parameter
   * hotcold.join.NAME with tls_x as tls.x, then the environment). No token:
   * a secret does not belong in the SQL text (token_file, or Options.token).
   */
  static final String[] ARGS = {"cold_table", "cold_side", "retention_days", "address", "token_file", "advance_to", "tls", "tls_ca",
      "tls_cert", "tls_key", "tls_server_name"};
  static final int A_COLD_TABLE = 0, A_COLD_SIDE = 1, A_RETENTION = 2, A_ADDRESS = 3, A_TOKEN_FILE = 4, A_ADVANCE_TO = 5, A_TLS = 6,
      A_TLS_CA = 7, A_TLS_CERT = 8, A_TLS_KEY = 9, A_TLS_SERVER_NAME = 10;

  /** Table arguments `left` and `right`; options from the call's arguments, job parameters and the environment. */
  public HotcoldJoin() {
    this("left", "right", new Options());
  }

  /**
   * For registering from Java: the names of the two table arguments (e.g. "orders", "refunds") and the options (those left unset
   * are read from job parameters and the environment).
   */
  public HotcoldJoin(String leftName, String rightName, Options options) {
    this(leftName, rightName, options, false);
  }

  /** leftJoin: HotcoldLeftJoin's (every left row, null-padded until a match arrives). */
  HotcoldJoin(String leftName, String rightName, Options options, boolean leftJoin) {
    this.leftName = leftName;
    this.rightName = rightName;
    this.options = options;
    this.leftJoin = leftJoin;
  }

  /** The join's name in messages. */
  String fn() {
    return leftJoin ? "HOTCOLD_LEFT_JOIN" : "HOTCOLD_JOIN";
  }

  private transient Call call;

  @Override
  public void open(FunctionContext context) {
    var g = context.getMetricGroup().addGroup("hotcold_join");
    coldLookups = g.counter(METRIC_COLD_LOOKUPS);
    coldHits = g.counter(METRIC_COLD_HITS);
    expired = g.counter(METRIC_EXPIRED);
    keptUncovered = g.counter(METRIC_KEPT_UNCOVERED);
    jobParams = new String[ARGS.length];
    for (int i = 0; i < ARGS.length; i++) {
      String v = context.getJobParameter("hotcold.join." + jobParam(i), null);
      jobParams[i] = v == null || v.isBlank() ? null : v.strip();
    }
    // The call's arguments are literals, known when the query was planned
    // (specialize): a restored timer that fires before the subtask's first
    // record knows the retention and the cold table too.
    call = planned != null ? resolve(planned) : null;
    runtime = ClientCleaner.runtimeContext(context);
  }

  /** The task's, to close the sidecar client when the job ends here (ClientCleaner). */
  private transient org.apache.flink.api.common.functions.RuntimeContext runtime;

  /**
   * When the query is translated, Flink (ProcessTableRunnerGenerator, 2.3.0)
   * asks for the instance that runs this call: a copy that knows the call's
   * literal option arguments.
   */
  @Override
  public UserDefinedFunction specialize(SpecializedContext context) {
    CallContext c = context.getCallContext();
    HotcoldJoin f;
    try {
      f = (HotcoldJoin) clone();
    } catch (CloneNotSupportedException e) {
      throw new IllegalStateException(e);
    }
    f.planned = literalArguments(c);
    return f;
  }

  /** The call's option arguments that are literals, as resolve takes them (null when absent). */
  private String[] literalArguments(CallContext call) {
    String[] a = new String[ARGS.length];
    for (int i = 0; i < ARGS.length; i++) {
      int at = 2 + i;
      if (at >= call.getArgumentDataTypes().size() || call.isArgumentNull(at) || !call.isArgumentLiteral(at)) {
        continue;
      }
      Class<?> c = i == A_RETENTION ? Integer.class : i == A_TLS ? Boolean.class : String.class;
      a[i] = call.getArgumentValue(at, c).map(String::valueOf).orElse(null);
    }
    return a;
  }

  /** The job parameter hotcold.join.NAME of argument i (tls_ca: tls.ca). */
  static String jobParam(int i) {
    return ARGS[i].startsWith("tls_") ? "tls." + ARGS[i].substring(4) : ARGS[i];
  }

  private transient String[] jobParams;

  /** The Options value of argument i as a string, or null. */
  private String optionValue(int i) {
    Options o = options;
    switch (i) {
      case A_COLD_TABLE: return o.coldTable;
      case A_COLD_SIDE: return o.coldSide;
      case A_RETENTION: return o.retentionDays == null ? null : String.valueOf(o.retentionDays);
      case A_ADDRESS: return o.address;
      case A_TOKEN_FILE: return o.tokenFile;
      case A_ADVANCE_TO: return o.advanceTo;
      case A_TLS: return o.tls == null ? null : String.valueOf(o.tls);
      case A_TLS_CA: return o.tlsCa;
      case A_TLS_CERT: return o.tlsCert;
      case A_TLS_KEY: return o.tlsKey;
      default: return o.tlsServerName;
    }
  }

  /**
   * The call's configuration from its arguments (args[i]: argument ARGS[i]
   * as a string, null when absent), Options, job parameters and the
   * environment; a setting's source names it in errors.
   */
  private Call resolve(String[] args) {
    String[] v = new String[ARGS.length];
    boolean[] fromArg = new boolean[ARGS.length];
    for (int i = 0; i < ARGS.length; i++) {
      String a = args[i] == null || args[i].isBlank() ? null : args[i].strip();
      fromArg[i] = a != null;
      v[i] = a != null ? a : optionValue(i) != null ? optionValue(i) : jobParams == null ? null : jobParams[i];
    }
    java.util.function.IntFunction<String> name = i -> fromArg[i] ? ARGS[i] : ARGS[i] + " (job parameter hotcold.join." + jobParam(i) + ")";
    Integer days;
    try {
      days = v[A_RETENTION] == null ? null : Integer.valueOf(v[A_RETENTION]);
    } catch (NumberFormatException e) {
      throw new ValidationException(fn() + ": " + name.apply(A_RETENTION) + " must be a number of days, got '" + v[A_RETENTION] + "'");
    }
    Call c = configure(v[A_COLD_TABLE], v[A_COLD_SIDE], days, v[A_ADVANCE_TO]);
    c.address = v[A_ADDRESS] != null ? v[A_ADDRESS] : System.getenv("HOTCOLD_ADDRESS");
    c.tokenFile = v[A_TOKEN_FILE] != null ? v[A_TOKEN_FILE] : System.getenv("HOTCOLD_TOKEN_FILE");
    c.token = options.token != null ? options.token : System.getenv("HOTCOLD_TOKEN");
    String tls = v[A_TLS];
    if (tls != null && !tls.equalsIgnoreCase("true") && !tls.equalsIgnoreCase("false")) {
      throw new ValidationException(fn() + ": " + name.apply(A_TLS) + " must be true or false, got '" + tls + "'");
    }
    boolean tlsArgs = false;
    for (int i = A_TLS; i <= A_TLS_SERVER_NAME; i++) {
      tlsArgs |= fromArg[i];
    }
    c.tlsNames = tlsArgs ? ARG_TLS_NAMES : TLS_NAMES;
    if ("true".equalsIgnoreCase(tls) || v[A_TLS_CA] != null || v[A_TLS_CERT] != null || v[A_TLS_KEY] != null
        || v[A_TLS_SERVER_NAME] != null) {
      c.tls = new LookupSpec.Tls(v[A_TLS_CA], v[A_TLS_CERT], v[A_TLS_KEY], v[A_TLS_SERVER_NAME]);
      List<String> problems = SidecarTls.problems(c.tls, c.address, c.tlsNames);
      if (!problems.isEmpty()) {
        throw new ValidationException(fn() + ": " + String.join("; ", problems));
      }
    }
    return c;
  }

  /** The call's arguments as resolve takes them. */
  private static String[] args(String coldTable, String coldSide, Integer retentionDays, String address, String tokenFile,
      String advanceTo, Boolean tls, String tlsCa, String tlsCert, String tlsKey, String tlsServerName) {
    return new String[] {coldTable, coldSide, retentionDays == null ? null : String.valueOf(retentionDays), address, tokenFile, advanceTo,
        tls == null ? null : String.valueOf(tls), tlsCa, tlsCert, tlsKey, tlsServerName};
  }

  /** The tls settings as a user of HOTCOLD_JOIN sets them. */
  static final SidecarTls.Names TLS_NAMES = new SidecarTls.Names("HOTCOLD_JOIN", "the job parameter hotcold.join.tls to true"
      + " (HotcoldJoin.Options.tls(true) from Java, the argument tls => TRUE in the call)", "hotcold.join.tls.ca", "hotcold.join.tls.cert",
      "hotcold.join.tls.key");
  /** The same when the call's arguments set them. */
  static final SidecarTls.Names ARG_TLS_NAMES = new SidecarTls.Names("HOTCOLD_JOIN", "tls => TRUE", "tls_ca", "tls_cert", "tls_key");

  @Override
  public void close() {
    // Flink 2.3.0 does not call this: ClientCleaner closes the client when
    // the job ends on this TaskManager (or this instance is collected). A
    // Flink that does call it closes the client here, once.
    if (cold != null) {
      cold.closer.clean();
      cold = null;
    }
  }

  // ---- planning ----

  @Override
  public TypeInference getTypeInference(DataTypeFactory typeFactory) {
    // A left join emits retractions, and Flink (2.2.1 and 2.3.0) refuses
    // `on_time` for a PTF that produces updates (StreamPhysicalProcessTableFunction
    // .verifyOnTimeForUpdates): it takes each record's time from its input's
    // rowtime column instead, and its timers fire on the watermark all the same.
    EnumSet<StaticArgumentTrait> table = leftJoin ? EnumSet.of(StaticArgumentTrait.TABLE, StaticArgumentTrait.SET_SEMANTIC_TABLE)
        : EnumSet.of(StaticArgumentTrait.TABLE, StaticArgumentTrait.SET_SEMANTIC_TABLE, StaticArgumentTrait.REQUIRE_ON_TIME);
    LinkedHashMap<String, StateTypeStrategy> state = new LinkedHashMap<>();
    // TTL 0: the timers drop the state. Undeclared, Flink 2.2.1 (and 2.3.0) wraps every
    // PTF state in a state TTL of Long.MAX_VALUE (StreamExecProcessTableFunction
    // .deriveStateTimeToLive), an 8-byte timestamp per value and a TTL check per access.
    state.put("hot", StateTypeStrategy.of(call -> Optional.of(stateType(call)), Duration.ZERO));
    List<StaticArgument> args = new ArrayList<>();
    args.add(StaticArgument.table(leftName, Row.class, false, table));
    args.add(StaticArgument.table(rightName, Row.class, false, table));
    // The options as optional scalar arguments: Flink 2.3.0 accepts them
    // next to two table arguments (2.2.1's SystemTypeInference
    // .checkMultipleTableArgs demanded set semantics of every argument).
    for (int i = 0; i < ARGS.length; i++) {
      DataType t = i == A_RETENTION ? DataTypes.INT() : i == A_TLS ? DataTypes.BOOLEAN() : DataTypes.STRING();
      args.add(StaticArgument.scalar(ARGS[i], t, true));
    }
    return TypeInference.newBuilder()
        .staticArguments(args)
        .stateTypeStrategies(state)
        .outputTypeStrategy(call -> {
          checkArguments(call);
          return Optional.of(outputType(call));
        })
        .build();
  }

  /**
   * When the query is planned: each option argument is a literal (the
   * configuration of a call is one for all its records) and the ones that
   * need no file or sidecar are valid.
   */
  private void checkArguments(CallContext call) {
    for (int i = 0; i < ARGS.length; i++) {
      int at = 2 + i;
      if (at >= call.getArgumentDataTypes().size() || call.isArgumentNull(at)) {
        continue;
      }
      if (!call.isArgumentLiteral(at)) {
        throw new ValidationException(fn() + ": the argument " + ARGS[i] + " must be a literal (e.g. " + ARGS[i] + " => "
            + (i == A_RETENTION ? "2" : i == A_TLS ? "TRUE" : "'...'") + "), it configures the whole call");
      }
    }
    String[] a = literalArguments(call);
    if (a[A_COLD_SIDE] != null && a[A_COLD_TABLE] == null) {
      a[A_COLD_TABLE] = "?"; // the table may be a job parameter: check the side's spelling only
    }
    if (a[A_RETENTION] != null) {
      configure(null, null, Integer.valueOf(a[A_RETENTION]), null);
    }
    configure(a[A_COLD_TABLE], a[A_COLD_SIDE], null, a[A_ADVANCE_TO]);
  }

  private static List<DataTypes.Field> fields(CallContext call, int arg, boolean nullable) {
    RowType rt = (RowType) LogicalTypeUtils.removeTimeAttributes(call.getArgumentDataTypes().get(arg).getLogicalType());
    List<DataTypes.Field> out = new ArrayList<>();
    for (RowType.RowField f : rt.getFields()) {
      LogicalType t = nullable ? f.getType().copy(true) : f.getType();
      out.add(DataTypes.FIELD(f.getName(), TypeConversions.fromLogicalToDataType(t)));
    }
    return out;
  }

  private DataType outputType(CallContext call) {
    List<DataTypes.Field> all = new ArrayList<>(fields(call, LEFT, false));
    all.addAll(fields(call, RIGHT, leftJoin));
    // Unique names inside the function's own output (Flink renames clashes with its prefix).
    List<String> seen = new ArrayList<>();
    List<DataTypes.Field> unique = new ArrayList<>();
    for (DataTypes.Field f : all) {
      String n = f.getName();
      for (int i = 0; seen.contains(n); i++) {
        n = f.getName() + "_" + SIDE[RIGHT] + (i == 0 ? "" : String.valueOf(i));
      }
      seen.add(n);
      unique.add(DataTypes.FIELD(n, f.getDataType()));
    }
    return DataTypes.ROW(unique);
  }

  private DataType stateType(CallContext call) {
    // Compact bytes, not nested ROWs: Flink stores a ROW's every field in an
    // 8-byte slot and converts the whole nested value to and from Row on
    // every access (the first layout stored ~190 B a row; this one ~1/3).
    return DataTypes.ROW(DataTypes.FIELD("s", DataTypes.BYTES()));
  }

  // ---- run time ----

  /** Per-call configuration, checked once per subtask. */
  private static final class Call {
    String coldTable;
    int coldSide = -1; // -1: no cold side
    int retention;
    Integer advanceDay; // the day of advance_to, or null
    String address, tokenFile, token;
    LookupSpec.Tls tls; // null: plaintext
    SidecarTls.Names tlsNames = TLS_NAMES; // how the user set the tls settings
  }

  /** The sidecar client and what it knows of the cold table. */
  private static final class Cold {
    HotcoldLookupClient client;
    java.lang.ref.Cleaner.Cleanable closer; // closes client (ClientCleaner)
    String address;
    LookupSpec.Tls tls;
    SidecarTls.Names tlsNames;
    String table;
    int side;
    int[] keyOrder; // for each cold key column, its position among the partition columns
    String[] columns; // the cold-backed input's column names
    LogicalType[] types;
    boolean[] inCold;
    int timeColumn; // the cold-backed input's time column, in columns
    Instant coversUntil; // null: unknown
    long refreshedAt; // System.nanoTime()
  }


  public void eval(Context ctx, Row hot, Row left, Row right, String coldTable, String coldSide, Integer retentionDays, String address,
      String tokenFile, String advanceTo, Boolean tls, String tlsCa, String tlsCert, String tlsKey, String tlsServerName)
      throws IOException {
    if (call == null) {
      // The arguments are literals (checkArguments): the same for every record.
      call = resolve(args(coldTable, coldSide, retentionDays, address, tokenFile, advanceTo, tls, tlsCa, tlsCert, tlsKey, tlsServerName));
    }
    int side = left != null ? LEFT : RIGHT;
    Row r = side == LEFT ? left : right;
    TableSemantics sem = ctx.tableSemanticsFor(side == LEFT ? leftName : rightName);
    if (call.coldSide >= 0 && cold == null) {
      cold = openCold(ctx);
    }
    TimeContext<Long> time = ctx.timeContext(Long.class); // a new object per call: fetched once
    Long onTime = time.time();
    long ts = onTime != null ? onTime : rowtime(r, sem, side);
    int day = (int) Math.floorDiv(ts, DAY_MS);
    int[] keyCols = sem.partitionByColumns();
    Object[] key = new Object[keyCols.length];
    boolean nullKey = false;
    for (int i = 0; i < keyCols.length; i++) {
      key[i] = r.getField(keyCols[i]);
      nullKey |= key[i] == null;
    }
    if (nullKey) {
      return; // SQL: a NULL key equals nothing; not stored
    }
    // The hot window starts here: never before a window this key already saw.
    Long wm = time.currentWatermark();
    int window = day - call.retention + 1;
    if (wm != null && wm != Long.MIN_VALUE) {
      window = Math.max(window, (int) Math.floorDiv(wm, DAY_MS) - call.retention + 1);
    }
    if (call.advanceDay != null) {
      window = Math.max(window, call.advanceDay - call.retention + 1);
    }
    EntryCodec.Hot h = EntryCodec.Hot.of(hot.getFieldAs(0));
    if (h.floor != null) {
      // Rows stored since this key's last record whose cold lookup is still
      // undecided are decided now, with the window they were stored under
      // (the floor, which only a record raises): this record must know
      // whether they joined a cold row.
      decidePending(ctx, h, key, h.floor);
      window = Math.max(window, h.floor);
    }
    h.floor = window;

    int other = 1 - side;
    EntryCodec.Entry[] matches = codec(ctx, other).decode(h.side[other]);
    Row coldRow = null;
    boolean deferred = false;
    if (matches.length == 0 && other == call.coldSide) {
      if (deferring()) {
        // Not awaited here: the lookup goes out now (the client coalesces
        // the lookups in flight into BatchLookup calls) and the pair is
        // emitted by the timer at the record's own time.
        prefetch(key);
        deferred = true;
      } else {
        coldRow = lookup(key, window, ctx);
      }
    }
    boolean coldSideRecord = side == call.coldSide;
    int pairs = 0;
    byte[] otherBytes = null;
    for (EntryCodec.Entry m : matches) {
      if (coldSideRecord && m.cold()) {
        continue; // the cold row this stored row joined, arriving again
      }
      Row o = m.row;
      if (leftJoin && side == RIGHT && m.padded()) {
        // The left row's first match: its null-padded row goes, as in Flink's own LEFT JOIN.
        Row gone = out(o, null, ctx);
        gone.setKind(org.apache.flink.types.RowKind.DELETE);
        collect(gone);
        if (otherBytes == null) {
          otherBytes = h.side[other];
        }
        otherBytes[m.flagsAt] = (byte) (m.flags & ~EntryCodec.FLAG_PADDED);
      }
      collect(side == LEFT ? out(r, o, ctx) : out(o, r, ctx));
      pairs++;
    }
    if (otherBytes != null) {
      h.side[other] = otherBytes;
    }
    if (coldRow != null) {
      collect(side == LEFT ? out(r, coldRow, ctx) : out(coldRow, r, ctx));
      pairs++;
    }
    boolean padded = leftJoin && side == LEFT && pairs == 0;
    if (padded) {
      collect(out(r, null, ctx));
    }
    // Store the record (late ones too: the expiry timer drops them at the
    // next watermark, which keeps a pair from being lost when the partner
    // of a late record is not in the cold table).
    byte[] mine = h.side[side];
    // An unnamed timer at the end of the bucket's last hot day (one per key
    // and time: Flink dedupes them). Named ones cost an entry per key and
    // name in Flink's internal-named-timers-map state on top (Flink 2.2.1
    // never removed a fired one; 2.3.0 does, AbstractProcessTableOperator
    // .onEventTime), and one name per day would be needed. A late record's bucket may already be past
    // its end: it goes at the next watermark (Flink drops a timer at or
    // before the current watermark). A day the key already holds a row of
    // has its timer pending unless the day is late (its timer fired): no
    // second registration, which costs a RocksDB write.
    long expiry = (long) (day + call.retention) * DAY_MS;
    boolean late = wm != null && wm != Long.MIN_VALUE && wm != Long.MAX_VALUE && expiry <= wm;
    if (late) {
      expiry = wm + 1;
    }
    EntryCodec mineCodec = codec(ctx, side);
    boolean pending = !late && (mineCodec.hasDay(mine, day) || (matches.length > 0 && hasDay(matches, day)));
    h.side[side] = mineCodec.append(mine, day, (coldRow != null ? EntryCodec.FLAG_COLD : 0) | (padded ? EntryCodec.FLAG_PADDED : 0)
        | (deferred ? EntryCodec.FLAG_PENDING : 0), r);
    hot.setField(0, h.bytes());
    if (!pending) {
      time.registerOnTime(expiry);
    }
    if (deferred && ts != expiry) {
      time.registerOnTime(ts);
    }
  }

  // ---- deferred cold lookups (the inner join) ----
  //
  // A record whose partner can only be the cold row is stored flagged
  // PENDING and its lookup sent without waiting (prefetch). Its pair is
  // emitted by the unnamed timer at the record's own time (so with the
  // record's rowtime, as if joined at once), or its lookup is decided
  // earlier when another record of the key arrives (which must know
  // whether it joined the cold row): then PENDING|COLD until the timer
  // emits the pair, or unflagged on a miss. The answers in flight are
  // transient (prefetched): after a restore, or past MAX_PREFETCHED keys,
  // a pending row is looked up again when it is decided.

  /** The most keys whose lookup answer a subtask keeps in memory; more are looked up again when decided. */
  static final int MAX_PREFETCHED = 100_000;

  private transient java.util.HashMap<List<Object>, java.util.concurrent.CompletableFuture<Optional<dev.hotcold.client.Row>>> prefetched;

  /** Whether cold lookups are deferred to the record's timer: the inner join's (the left join emits its null-padded row at once). */
  private boolean deferring() {
    return !leftJoin;
  }

  private void prefetch(Object[] key) {
    if (prefetched == null) {
      prefetched = new java.util.HashMap<>();
    }
    List<Object> k = Arrays.asList(key.clone());
    if (prefetched.size() < MAX_PREFETCHED || prefetched.containsKey(k)) {
      prefetched.put(k, lookupAsync(key));
    }
  }

  /** The lookup answer of key: the prefetched one (kept unless remove), else a lookup now. */
  private Optional<dev.hotcold.client.Row> answer(Object[] key, boolean remove) throws IOException {
    List<Object> k = Arrays.asList(key);
    java.util.concurrent.CompletableFuture<Optional<dev.hotcold.client.Row>> f = prefetched == null ? null
        : remove ? prefetched.remove(k) : prefetched.get(k);
    if (f == null) {
      f = lookupAsync(key);
      if (!remove) {
        if (prefetched == null) {
          prefetched = new java.util.HashMap<>();
        }
        if (prefetched.size() < MAX_PREFETCHED) {
          prefetched.put(Arrays.asList(key.clone()), f);
        }
      }
    }
    return await(key, f);
  }

  /** The input whose rows wait for cold lookups: the one the cold table does not back. */
  private int pendingSide() {
    return 1 - call.coldSide;
  }

  /** Decides every undecided PENDING row of the key with window: PENDING|COLD on a cold hit, unflagged on a miss. */
  private void decidePending(Context ctx, EntryCodec.Hot h, Object[] key, int window) throws IOException {
    if (!deferring() || call.coldSide < 0) {
      return;
    }
    int ps = pendingSide();
    byte[] bytes = h.side[ps];
    if (bytes == null) {
      return;
    }
    EntryCodec.Entry[] es = null;
    for (EntryCodec.Entry e : codec(ctx, ps).decode(bytes)) {
      if ((e.flags & EntryCodec.FLAG_PENDING) == 0 || e.cold()) {
        continue;
      }
      Row c = coldRow(key, answer(key, false), window);
      bytes[e.flagsAt] = (byte) (c != null ? e.flags | EntryCodec.FLAG_COLD : e.flags & ~EntryCodec.FLAG_PENDING);
      if (c == null) {
        forgetIfSettled(ctx, bytes, key);
      }
    }
  }

  /** Drops key's prefetched answer once no row of the key waits for it. */
  private void forgetIfSettled(Context ctx, byte[] bytes, Object[] key) {
    if (prefetched == null || prefetched.isEmpty()) {
      return;
    }
    for (EntryCodec.Entry e : codec(ctx, pendingSide()).decode(bytes)) {
      if ((e.flags & EntryCodec.FLAG_PENDING) != 0) {
        return;
      }
    }
    prefetched.remove(Arrays.asList(key));
  }

  /** Emits the pairs of the PENDING rows whose time is at or before now (their timers), deciding those still undecided. */
  private void emitPending(OnTimerContext ctx, EntryCodec.Hot h, long now) throws IOException {
    if (!deferring() || call.coldSide < 0 || h.side[pendingSide()] == null) {
      return;
    }
    int ps = pendingSide();
    byte[] bytes = h.side[ps];
    TableSemantics sem = ctx.tableSemanticsFor(ps == LEFT ? leftName : rightName);
    int[] pk = sem.partitionByColumns();
    Object[] key = null;
    boolean any = false;
    for (EntryCodec.Entry e : codec(ctx, ps).decode(bytes)) {
      if ((e.flags & EntryCodec.FLAG_PENDING) == 0) {
        continue;
      }
      if (key == null) {
        key = new Object[pk.length];
        for (int i = 0; i < pk.length; i++) {
          key[i] = e.row.getField(pk[i]);
        }
      }
      if (timeOf(e.row, sem, ps) > now) {
        continue; // its own timer comes later
      }
      if (cold == null) {
        cold = openCold(ctx);
      }
      // Undecided: no record of the key came since it, so the floor is
      // still the window it was stored under (a timer raises the floor
      // only to the window of an earlier time).
      Row c = coldRow(key, answer(key, false), e.cold() ? Integer.MAX_VALUE : h.floor == null ? Integer.MIN_VALUE : h.floor);
      bytes[e.flagsAt] = (byte) ((e.flags & ~EntryCodec.FLAG_PENDING) | (c != null ? EntryCodec.FLAG_COLD : 0));
      if (c != null) {
        collect(ps == LEFT ? out(e.row, c, ctx) : out(c, e.row, ctx));
      }
      any = true;
    }
    if (any) {
      forgetIfSettled(ctx, bytes, key);
    }
  }

  /** A stored row's event time (its on_time column, else its rowtime column). */
  private long timeOf(Row r, TableSemantics sem, int side) {
    int i = sem.timeColumn() >= 0 ? sem.timeColumn() : rowtimeColumn(sem, side);
    Object t = r.getField(i);
    if (t instanceof Instant) {
      return ((Instant) t).toEpochMilli();
    }
    if (t instanceof LocalDateTime) {
      return ((LocalDateTime) t).toInstant(ZoneOffset.UTC).toEpochMilli();
    }
    throw new IllegalArgumentException(fn() + ": a stored row of '" + (side == LEFT ? leftName : rightName) + "' has no event time (" + t + ")");
  }

  private static boolean hasDay(EntryCodec.Entry[] es, int day) {
    for (EntryCodec.Entry e : es) {
      if (e.day == day) {
        return true;
      }
    }
    return false;
  }

  private transient EntryCodec[] codecs;
  private transient EntryCodec timerCodec;

  /** The codec of one input's stored rows (its columns without time attributes). */
  private EntryCodec codec(Context ctx, int side) {
    if (codecs == null) {
      codecs = new EntryCodec[2];
    }
    if (codecs[side] == null) {
      RowType rt = (RowType) LogicalTypeUtils.removeTimeAttributes(ctx.tableSemanticsFor(side == LEFT ? leftName : rightName)
          .dataType().getLogicalType());
      codecs[side] = new EntryCodec(rt);
    }
    return codecs[side];
  }

  /** Drops the rows of every day bucket that left the hot window (the cold-backed input's only once covered). */
  public void onTimer(OnTimerContext ctx, Row hot) throws IOException {
    long now = ctx.timeContext(Long.class).time();
    if (call == null) {
      // Only in an instance the planner did not specialize (specialize
      // sets the call's arguments at open): a restored timer before this
      // subtask's first record, and a timer gets no arguments. Keep
      // everything and look again later.
      Long wm = ctx.timeContext(Long.class).currentWatermark();
      if (wm == null || wm != Long.MAX_VALUE) {
        ctx.timeContext(Long.class).registerOnTime(Math.max(now, wm == null ? now : wm) + RECHECK_MS);
      }
      return;
    }
    int window = (int) Math.floorDiv(now, DAY_MS) - call.retention + 1;
    if (timerCodec == null) {
      timerCodec = new EntryCodec(RowType.of());
    }
    EntryCodec.Hot h = EntryCodec.Hot.of(hot.getFieldAs(0));
    emitPending(ctx, h, now);
    boolean[] keep = {false};
    for (int side = LEFT; side <= RIGHT; side++) {
      boolean coldBacked = side == call.coldSide;
      byte[] es = h.side[side];
      byte[] kept = timerCodec.retain(es, d -> {
        if (d >= window) {
          return true;
        }
        if (coldBacked && !covered(d)) {
          keep[0] = true;
          keptUncovered.inc();
          return true;
        }
        expired.inc();
        return false;
      });
      if (kept != es) {
        h.side[side] = kept;
      }
    }
    if (h.side[LEFT] == null && h.side[RIGHT] == null) {
      // Nothing left of the key: its state goes (the window floor too; a
      // later record's own day bounds the window from below, which keeps an
      // expired partner answerable from the cold table while records are
      // less than a day out of order after a restore). Its pending timers
      // stay and find no state. Not ctx.clearAll()/clearAllTimers(): in
      // Flink 2.2.1 and 2.3.0 (WritableInternalTimeContext.clearUnnamedTimers
      // through InternalTimerService.forEachEventTimeTimer) they walk every key's timers
      // (InternalTimerServiceImpl.foreachTimer sets the current key to each
      // timer's key) and leave another key current, whose state the clear
      // then drops.
      ctx.clearAllState();
      return;
    }
    h.floor = h.floor == null ? window : Math.max(h.floor, window);
    hot.setField(0, h.bytes());
    if (keep[0]) {
      Long wm = ctx.timeContext(Long.class).currentWatermark();
      if (wm == null || wm != Long.MAX_VALUE) {
        // Not covered yet: look again later (never at the end of input, when the watermark is final).
        ctx.timeContext(Long.class).registerOnTime(Math.max(now, wm == null ? now : wm) + RECHECK_MS);
      }
    }
  }

  private transient int[] rowtimeColumns;

  /** The input's rowtime column (its WATERMARK's), for a join without `on_time`. */
  private int rowtimeColumn(TableSemantics sem, int side) {
    if (rowtimeColumns == null) {
      rowtimeColumns = new int[] {-2, -2};
    }
    if (rowtimeColumns[side] == -2) {
      List<LogicalType> types = sem.dataType().getLogicalType().getChildren();
      int found = -1;
      for (int i = 0; i < types.size(); i++) {
        if (org.apache.flink.table.types.logical.utils.LogicalTypeChecks.isRowtimeAttribute(types.get(i))) {
          found = i;
          break;
        }
      }
      if (found < 0) {
        throw new ValidationException(fn() + ": the table argument '" + (side == LEFT ? leftName : rightName)
            + "' has no event-time column: declare a WATERMARK on its time column (and pass the column on unchanged)");
      }
      rowtimeColumns[side] = found;
    }
    return rowtimeColumns[side];
  }

  /** A record's event time from its rowtime column (a NULL time fails: it has no day). */
  private long rowtime(Row r, TableSemantics sem, int side) {
    int i = rowtimeColumn(sem, side);
    Object t = r.getField(i);
    if (t instanceof Instant) {
      return ((Instant) t).toEpochMilli();
    }
    if (t instanceof LocalDateTime) {
      return ((LocalDateTime) t).toInstant(ZoneOffset.UTC).toEpochMilli();
    }
    throw new IllegalArgumentException(fn() + ": a record of '" + (side == LEFT ? leftName : rightName) + "' has no event time (" + t + ")");
  }

  private transient int[] arities;

  private Row out(Row l, Row r, Context ctx) {
    if (arities == null) {
      arities = new int[] {arity(ctx, leftName), arity(ctx, rightName)};
    }
    int nl = arities[LEFT], nr = arities[RIGHT];
    Row o = new Row(nl + nr);
    for (int i = 0; i < nl; i++) {
      o.setField(i, l == null ? null : l.getField(i));
    }
    for (int i = 0; i < nr; i++) {
      o.setField(nl + i, r == null ? null : r.getField(i));
    }
    return o;
  }

  private static int arity(Context ctx, String arg) {
    return DataType.getFieldCount(ctx.tableSemanticsFor(arg).dataType());
  }

  private Call configure(String coldTable, String coldSide, Integer retentionDays, String advanceTo) {
    Call c = new Call();
    if (advanceTo != null) {
      try {
        Instant t = advanceTo.length() == 10 ? java.time.LocalDate.parse(advanceTo).atStartOfDay(ZoneOffset.UTC).toInstant()
            : Instant.parse(advanceTo);
        c.advanceDay = (int) Math.floorDiv(t.toEpochMilli(), DAY_MS);
      } catch (java.time.format.DateTimeParseException e) {
        throw new ValidationException(fn() + ": advance_to must be a date (2026-11-22) or an RFC 3339 instant"
            + " (2026-11-22T10:00:00Z), got '" + advanceTo + "'", e);
      }
    }
    c.retention = retentionDays == null ? 2 : retentionDays;
    if (c.retention < 1) {
      throw new ValidationException(fn() + ": retention_days must be at least 1, got " + c.retention);
    }
    c.coldTable = coldTable;
    if (coldTable != null) {
      String s = coldSide != null ? coldSide.strip().toLowerCase(java.util.Locale.ROOT) : leftJoin ? "right" : "left";
      if (s.equals("left") || s.equals(leftName.toLowerCase(java.util.Locale.ROOT))) {
        c.coldSide = LEFT;
      } else if (s.equals("right") || s.equals(rightName.toLowerCase(java.util.Locale.ROOT))) {
        c.coldSide = RIGHT;
      } else {
        throw new ValidationException(fn() + ": cold_side must be 'left' or 'right' (the table argument "
            + "the cold table backs), got '" + coldSide + "'");
      }
    }
    return c;
  }

  private Cold openCold(Context ctx) throws IOException {
    String addr = call.address;
    String table = call.coldTable;
    if (addr == null || addr.isBlank()) {
      throw new ValidationException(fn() + ": cold table '" + table + "' needs the sidecar: set the job parameter "
          + "hotcold.join.address or the argument address => '...' (unix:///path/hotcold.sock or host:port), or HOTCOLD_ADDRESS on the TaskManagers");
    }
    HotcoldLookupClient.Builder b = HotcoldLookupClient.newBuilder()
        .deadline(Duration.ofSeconds(10))
        .retries(10, Duration.ofMillis(25), Duration.ofSeconds(1));
    Address.parse(addr).configure(b);
    SidecarTls.configure(b, call.tls, call.tlsNames);
    String tf = call.tokenFile;
    String token = call.token;
    if (tf != null && !tf.isBlank()) {
      try {
        token = Files.readString(Path.of(tf), StandardCharsets.UTF_8).strip();
      } catch (IOException e) {
        throw new IOException(fn() + ": cannot read token_file " + tf + ": " + e, e);
      }
    }
    if (token != null && !token.isEmpty()) {
      b.token(token);
    }
    Cold c = new Cold();
    c.client = SidecarTls.build(b, call.tls, call.tlsNames);
    c.tls = call.tls;
    c.tlsNames = call.tlsNames;
    c.address = addr;
    c.table = table;
    c.side = call.coldSide;
    try {
      TableSemantics sem = ctx.tableSemanticsFor(c.side == LEFT ? leftName : rightName);
      RowType rt = (RowType) LogicalTypeUtils.removeTimeAttributes(sem.dataType().getLogicalType());
      TableInfo info = describe(c);
      Schema s = info.schema();
      c.columns = rt.getFieldNames().toArray(new String[0]);
      c.types = rt.getChildren().toArray(new LogicalType[0]);
      c.inCold = new boolean[c.columns.length];
      c.timeColumn = sem.timeColumn() >= 0 ? sem.timeColumn() : rowtimeColumn(sem, c.side);
      List<String> present = new ArrayList<>();
      List<LogicalType> presentTypes = new ArrayList<>();
      List<String> problems = new ArrayList<>();
      for (int i = 0; i < c.columns.length; i++) {
        if (s.indexOf(c.columns[i]) >= 0) {
          c.inCold[i] = true;
          present.add(c.columns[i]);
          presentTypes.add(c.types[i]);
        } else if (!c.types[i].isNullable()) {
          problems.add("input column \"" + c.columns[i] + "\" (" + c.types[i] + ") is missing from the cold table");
        }
      }
      int[] pk = sem.partitionByColumns();
      int[] keyInSpec = new int[pk.length];
      for (int i = 0; i < pk.length; i++) {
        keyInSpec[i] = present.indexOf(c.columns[pk[i]]);
        if (keyInSpec[i] < 0) {
          problems.add("the join key column \"" + c.columns[pk[i]] + "\" is not in the cold table; its key is " + s.key());
        }
      }
      List<String> partitionNames = new ArrayList<>();
      for (int k : pk) {
        partitionNames.add(c.columns[k]);
      }
      if (!new java.util.HashSet<>(partitionNames).equals(new java.util.HashSet<>(s.key()))) {
        problems.add("the input is partitioned by " + partitionNames + " but the cold table's key is " + s.key()
            + ": PARTITION BY the cold table's key columns");
      }
      if (!problems.isEmpty()) {
        throw new IOException(fn() + ": cold table " + table + " (version " + s.version() + ") at " + addr
            + " does not fit the " + SIDE[c.side] + " input: " + String.join("; ", problems));
      }
      LookupSpec spec = new LookupSpec(addr, table, null, null, 1, 1, 0, Duration.ZERO, present, presentTypes, keyInSpec);
      try {
        c.keyOrder = LookupCore.check(spec, s);
      } catch (IOException e) {
        throw new IOException(fn() + ": " + e.getMessage(), e);
      }
      c.coversUntil = info.coversUntil();
      c.refreshedAt = System.nanoTime();
      c.closer = ClientCleaner.register(this, c.client, runtime);
      return c;
    } catch (IOException | RuntimeException e) {
      c.client.close();
      throw e;
    }
  }

  private static TableInfo describe(Cold c) throws IOException {
    try {
      return c.client.describeTable(c.table);
    } catch (HotcoldException e) {
      throw new IOException("HOTCOLD_JOIN: the hotcold sidecar at " + c.address + " did not describe cold table " + c.table
          + ": " + e.getMessage() + SidecarTls.plaintextHint(c.address, c.tls, c.tlsNames)
          + " (is the sidecar running and does it serve the table?)", e);
    }
  }

  /** Whether the cold table covers every event of day (its covers-until is at or past the day's end). */
  private boolean covered(int day) {
    if (cold == null) {
      return false; // not opened in this subtask yet (a timer before any record): keep
    }
    long end = (long) (day + 1) * DAY_MS;
    if (cold.coversUntil == null || cold.coversUntil.toEpochMilli() < end) {
      if (System.nanoTime() - cold.refreshedAt >= COVERAGE_REFRESH.toNanos()) {
        cold.refreshedAt = System.nanoTime();
        try {
          cold.coversUntil = cold.client.describeTable(cold.table).coversUntil();
        } catch (HotcoldException e) {
          // Keep the last known coverage: buckets are kept longer, never dropped early.
        }
      }
    }
    return cold.coversUntil != null && cold.coversUntil.toEpochMilli() >= end;
  }

  /** The cold row of key as a row of the cold-backed input, or null (missing, or not older than the window). */
  private Row lookup(Object[] key, int window, Context ctx) throws IOException {
    return coldRow(key, await(key, lookupAsync(key)), window);
  }

  /** Sends the lookup of key (partition column order) without waiting. */
  private java.util.concurrent.CompletableFuture<Optional<dev.hotcold.client.Row>> lookupAsync(Object[] key) {
    Object[] k = new Object[cold.keyOrder.length];
    for (int i = 0; i < k.length; i++) {
      k[i] = key[cold.keyOrder[i]];
    }
    coldLookups.inc();
    return cold.client.lookupAsync(cold.table, Key.of(k));
  }

  private Optional<dev.hotcold.client.Row> await(Object[] key, java.util.concurrent.CompletableFuture<Optional<dev.hotcold.client.Row>> f)
      throws IOException {
    try {
      return f.join();
    } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException e) {
      Throwable c = e.getCause() != null ? e.getCause() : e;
      Object[] k = new Object[cold.keyOrder.length];
      for (int i = 0; i < k.length; i++) {
        k[i] = key[cold.keyOrder[i]];
      }
      throw new IOException(fn() + ": lookup of key " + Arrays.toString(k) + " in cold table " + cold.table
          + " at the hotcold sidecar " + cold.address + " failed: " + c.getMessage()
          + " (a failed lookup is never taken as a miss: restart the sidecar and the job resumes from its checkpoint)", c);
    }
  }

  /** got as a row of the cold-backed input, or null (missing, or not older than window; Integer.MAX_VALUE: any age). */
  private Row coldRow(Object[] key, Optional<dev.hotcold.client.Row> got, int window) {
    if (got.isEmpty()) {
      return null;
    }
    Row out = new Row(cold.columns.length);
    for (int i = 0; i < cold.columns.length; i++) {
      if (cold.inCold[i]) {
        out.setField(i, toExternal(got.get().get(cold.columns[i]), cold.types[i]));
      }
    }
    if (cold.timeColumn >= 0 && window != Integer.MAX_VALUE) {
      Object t = out.getField(cold.timeColumn);
      Long ms = t instanceof Instant ? Long.valueOf(((Instant) t).toEpochMilli())
          : t instanceof LocalDateTime ? Long.valueOf(((LocalDateTime) t).toInstant(ZoneOffset.UTC).toEpochMilli()) : null;
      if (ms != null && Math.floorDiv(ms, DAY_MS) >= window) {
        return null; // newer rows are hot state's: in it, or still to come
      }
    }
    coldHits.inc();
    return out;
  }

  /** A cold value (as the Java client returns it) as Flink's external value of type f. */
  static Object toExternal(Object v, LogicalType f) {
    if (v == null) {
      return null;
    }
    switch (f.getTypeRoot()) {
      case TINYINT:
        return ((Number) v).byteValue();
      case SMALLINT:
        return ((Number) v).shortValue();
      case INTEGER:
        return ((Number) v).intValue();
      case BIGINT:
        return ((Number) v).longValue();
      case FLOAT:
        return ((Number) v).floatValue();
      case DOUBLE:
        return ((Number) v).doubleValue();
      case DECIMAL:
        return ((BigDecimal) v).setScale(((org.apache.flink.table.types.logical.DecimalType) f).getScale(), RoundingMode.UNNECESSARY);
      case TIMESTAMP_WITH_LOCAL_TIME_ZONE:
        return v instanceof LocalDateTime ? ((LocalDateTime) v).toInstant(ZoneOffset.UTC) : v;
      case TIMESTAMP_WITHOUT_TIME_ZONE:
        return v instanceof Instant ? LocalDateTime.ofInstant((Instant) v, ZoneOffset.UTC) : v;
      default:
        return v;
    }
  }
}
