package dev.hotcold.flink;

import dev.hotcold.client.HotcoldLookupClient;
import dev.hotcold.client.Key;
import dev.hotcold.client.Schema;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.catalog.DataTypeFactory;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.inference.ArgumentCount;
import org.apache.flink.table.types.inference.CallContext;
import org.apache.flink.table.types.inference.ConstantArgumentCount;
import org.apache.flink.table.types.inference.InputTypeStrategy;
import org.apache.flink.table.types.inference.Signature;
import org.apache.flink.table.types.inference.TypeInference;
import org.apache.flink.types.Row;

/**
 * {@code HOTCOLD_LOOKUP('table', key...)}: the cold row of a key as a ROW of
 * the table's columns (types as in the connector's type table), or NULL when
 * the key is missing. The table name must be a literal: the ROW type is read
 * from the sidecar's DescribeTable when the query is planned.
 *
 * <pre>{@code
 * CREATE TEMPORARY FUNCTION HOTCOLD_LOOKUP AS 'dev.hotcold.flink.HotcoldLookupUdf';
 * SELECT o.order_id, HOTCOLD_LOOKUP('users', o.user_id).name FROM orders AS o;
 * }</pre>
 *
 * The sidecar is the environment's HOTCOLD_ADDRESS (unix:///path or
 * host:port) with the token of HOTCOLD_TOKEN_FILE or HOTCOLD_TOKEN, and TLS
 * (the connector's tls options) from HOTCOLD_TLS=true, HOTCOLD_TLS_CA,
 * HOTCOLD_TLS_CERT, HOTCOLD_TLS_KEY and HOTCOLD_TLS_SERVER_NAME, on the
 * planning client and on every TaskManager; or pass them to the constructor
 * and {@link #withTls} when registering an instance from Java. Lookups block
 * (a scalar function); use the connector for high-rate joins.
 */
public class HotcoldLookupUdf extends ScalarFunction {
  private static final long serialVersionUID = 1L;

  private final String address;
  private final String tokenFile;
  private final String token;
  private LookupSpec.Tls tls; // null: plaintext
  private transient HotcoldLookupClient client;
  private transient Map<String, Schema> schemas;

  /** Reads HOTCOLD_ADDRESS, HOTCOLD_TOKEN_FILE and HOTCOLD_TOKEN from the environment. */
  public HotcoldLookupUdf() {
    this(System.getenv("HOTCOLD_ADDRESS"), System.getenv("HOTCOLD_TOKEN_FILE"), System.getenv("HOTCOLD_TOKEN"));
    String ca = env("HOTCOLD_TLS_CA"), cert = env("HOTCOLD_TLS_CERT"), key = env("HOTCOLD_TLS_KEY"), name = env("HOTCOLD_TLS_SERVER_NAME");
    if ("true".equalsIgnoreCase(env("HOTCOLD_TLS")) || ca != null || cert != null || key != null || name != null) {
      withTls(ca, cert, key, name);
    }
  }

  private static String env(String name) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? null : v.strip();
  }

  /** The tls settings as a user of HOTCOLD_LOOKUP sets them. */
  static final SidecarTls.Names TLS_NAMES = new SidecarTls.Names("HOTCOLD_LOOKUP", "HOTCOLD_TLS=true", "HOTCOLD_TLS_CA",
      "HOTCOLD_TLS_CERT", "HOTCOLD_TLS_KEY");

  /**
   * TLS to a host:port sidecar, as the connector's tls options: the CA file
   * (null: the JVM's trust store), the client certificate and its PKCS#8 key
   * for mutual TLS (both or neither), the name the sidecar's certificate
   * carries (null: the address's host).
   */
  public HotcoldLookupUdf withTls(String ca, String cert, String key, String serverName) {
    LookupSpec.Tls t = new LookupSpec.Tls(ca, cert, key, serverName);
    java.util.List<String> problems = SidecarTls.problems(t, address, TLS_NAMES);
    if (!problems.isEmpty()) {
      throw new ValidationException("HOTCOLD_LOOKUP: " + String.join("; ", problems));
    }
    this.tls = t;
    return this;
  }

  /** The sidecar's address, and a token file or a token (either may be null). */
  public HotcoldLookupUdf(String address, String tokenFile, String token) {
    this.address = address;
    this.tokenFile = tokenFile;
    this.token = token;
  }

  private HotcoldLookupClient newClient() {
    if (address == null || address.isBlank()) {
      throw new ValidationException("HOTCOLD_LOOKUP: set HOTCOLD_ADDRESS (unix:///path/hotcold.sock or host:port) to the sidecar's address");
    }
    HotcoldLookupClient.Builder b = HotcoldLookupClient.newBuilder();
    Address.parse(address).configure(b);
    try {
      SidecarTls.configure(b, tls, TLS_NAMES);
    } catch (java.io.IOException e) {
      throw new ValidationException(e.getMessage(), e);
    }
    String tok = token;
    if (tokenFile != null && !tokenFile.isBlank()) {
      try {
        tok = Files.readString(Path.of(tokenFile), StandardCharsets.UTF_8).strip();
      } catch (java.io.IOException e) {
        throw new ValidationException("HOTCOLD_LOOKUP: cannot read the token file " + tokenFile + " (HOTCOLD_TOKEN_FILE): " + e, e);
      }
    }
    if (tok != null && !tok.isEmpty()) {
      b.token(tok);
    }
    try {
      return SidecarTls.build(b, tls, TLS_NAMES);
    } catch (java.io.IOException e) {
      throw new ValidationException(e.getMessage(), e);
    }
  }

  @Override
  public void open(FunctionContext context) {
    client = newClient();
    schemas = new ConcurrentHashMap<>();
  }

  @Override
  public void close() {
    if (client != null) {
      client.close();
    }
  }

  /** The cold row of the key, or null when the key (or one of its values) is missing. */
  public Row eval(String table, Object... key) {
    for (Object k : key) {
      if (k == null) {
        return null;
      }
    }
    Optional<dev.hotcold.client.Row> r;
    try {
      r = client.lookup(table, Key.of(key));
    } catch (dev.hotcold.client.HotcoldException e) {
      throw new dev.hotcold.client.HotcoldException(e.code(), "HOTCOLD_LOOKUP('" + table + "'): lookup at " + address + " failed: "
          + e.getMessage() + SidecarTls.plaintextHint(address, tls, TLS_NAMES), e);
    }
    if (r.isEmpty()) {
      return null;
    }
    Schema s = schemas.computeIfAbsent(table, tb -> client.describeTable(tb).schema());
    Row out = new Row(s.columns().size());
    for (int i = 0; i < s.columns().size(); i++) {
      out.setField(i, r.get().get(s.columns().get(i).name()));
    }
    return out;
  }

  @Override
  public TypeInference getTypeInference(DataTypeFactory typeFactory) {
    Map<String, Schema> planned = new ConcurrentHashMap<>();
    return TypeInference.newBuilder()
        .inputTypeStrategy(new InputTypeStrategy() {
          @Override
          public ArgumentCount getArgumentCount() {
            return ConstantArgumentCount.from(2);
          }

          @Override
          public Optional<List<DataType>> inferInputTypes(CallContext call, boolean throwOnFailure) {
            Schema s = describe(call, planned);
            List<DataType> types = new ArrayList<>();
            types.add(DataTypes.STRING().notNull());
            if (call.getArgumentDataTypes().size() - 1 != s.key().size()) {
              throw new ValidationException("HOTCOLD_LOOKUP('" + s.table() + "', ...) takes the " + s.key().size()
                  + " key value(s) " + s.key() + ", got " + (call.getArgumentDataTypes().size() - 1));
            }
            for (String k : s.key()) {
              // Nullable: a null key value returns NULL.
              types.add(flinkType(s.columns().get(s.indexOf(k))).nullable());
            }
            return Optional.of(types);
          }

          @Override
          public List<Signature> getExpectedSignatures(org.apache.flink.table.functions.FunctionDefinition definition) {
            return List.of(Signature.of(Signature.Argument.of("table", "STRING"), Signature.Argument.of("key", "...")));
          }
        })
        .outputTypeStrategy(call -> {
          Schema s = describe(call, planned);
          List<DataTypes.Field> fields = new ArrayList<>();
          for (Schema.Column c : s.columns()) {
            fields.add(DataTypes.FIELD(c.name(), flinkType(c).nullable()));
          }
          return Optional.of(DataTypes.ROW(fields.toArray(new DataTypes.Field[0])));
        })
        .build();
  }

  private Schema describe(CallContext call, Map<String, Schema> planned) {
    if (!call.isArgumentLiteral(0) || call.isArgumentNull(0)) {
      throw new ValidationException("HOTCOLD_LOOKUP: the first argument must be the table name as a string literal, e.g. HOTCOLD_LOOKUP('users', user_id)");
    }
    String table = call.getArgumentValue(0, String.class).orElseThrow();
    return planned.computeIfAbsent(table, tb -> {
      try (HotcoldLookupClient c = newClient()) {
        return c.describeTable(tb).schema();
      } catch (RuntimeException e) {
        throw new ValidationException("HOTCOLD_LOOKUP('" + tb + "'): DescribeTable at " + address + " failed: " + e.getMessage()
            + SidecarTls.plaintextHint(address, tls, TLS_NAMES), e);
      }
    });
  }

  /** The Flink type of a cold column (see TypeMapping), with the Java classes the client returns. */
  static DataType flinkType(Schema.Column c) {
    String t = c.type();
    DataType d;
    switch (t) {
      case "bool":
        d = DataTypes.BOOLEAN();
        break;
      case "int32":
        d = DataTypes.INT();
        break;
      case "int64":
        d = DataTypes.BIGINT();
        break;
      case "float32":
        d = DataTypes.FLOAT();
        break;
      case "float64":
        d = DataTypes.DOUBLE();
        break;
      case "string":
        d = DataTypes.STRING();
        break;
      case "binary":
        d = DataTypes.BYTES();
        break;
      case "date32":
        d = DataTypes.DATE();
        break;
      case "null":
        d = DataTypes.STRING();
        break;
      default:
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("decimal128\\((\\d+),\\s*(\\d+)\\)").matcher(t);
        if (m.matches()) {
          d = DataTypes.DECIMAL(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)));
          break;
        }
        m = java.util.regex.Pattern.compile("timestamp\\[(ms|us)(,\\s*[^\\]]+)?\\]").matcher(t);
        if (m.matches()) {
          int p = m.group(1).equals("ms") ? 3 : 6;
          d = m.group(2) != null ? DataTypes.TIMESTAMP_LTZ(p).bridgedTo(java.time.Instant.class) : DataTypes.TIMESTAMP(p);
          break;
        }
        throw new ValidationException("HOTCOLD_LOOKUP: column " + c.name() + " has the cold type " + t + ", which has no Flink type");
    }
    return c.nullable() ? d.nullable() : d.notNull();
  }
}
