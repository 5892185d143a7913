package dev.hotcold.flink;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;

/**
 * {@code java -jar hotcold-flink-runner.jar sql job.sql}: runs a Flink SQL
 * script in this one process, on a local MiniCluster.
 */
public final class Main {
  private Main() {}

  static final String USAGE =
      "usage: hotcold-flink sql FILE.sql\n"
          + "\n"
          + "Runs the Flink SQL statements of FILE.sql in this process, on a local MiniCluster:\n"
          + "${NAME} is replaced by the environment variable NAME ($${ for a literal ${), DDL runs\n"
          + "at once, each INSERT (or EXECUTE STATEMENT SET) runs as a job that is waited for, and\n"
          + "a SELECT prints its rows. Exits 0 when every job finished, 1 when one failed;\n"
          + "SIGTERM cancels the running job, then exits. The 'hotcold' connector and the\n"
          + "HOTCOLD_LOOKUP, HOTCOLD_JOIN and HOTCOLD_LEFT_JOIN functions are built in.\n"
          + "\n"
          + "example:\n"
          + "  HOTCOLD_ADDRESS=unix:///run/hotcold/hotcold.sock java -jar hotcold-flink-runner.jar sql enrich.sql\n";

  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  static int run(String[] args, PrintStream out, PrintStream err) {
    if (args.length == 1 && (args[0].equals("-h") || args[0].equals("--help") || args[0].equals("help"))) {
      out.print(USAGE);
      return 0;
    }
    if (args.length != 2 || !args[0].equals("sql")) {
      err.print(USAGE);
      return 2;
    }
    String file = args[1];
    List<SqlScript.Statement> statements;
    try {
      String text = Files.readString(Path.of(file), StandardCharsets.UTF_8);
      statements = SqlScript.split(SqlScript.substitute(file, text, System.getenv()));
    } catch (Exception e) {
      err.println("hotcold-flink sql: " + e.getMessage());
      return 1;
    }
    TableEnvironment t = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
    t.createTemporarySystemFunction("HOTCOLD_LOOKUP", HotcoldLookupUdf.class);
    // By name: the -Pflink-1.20 build has no process table functions (Flink 2.1+) and leaves these classes out.
    for (String[] f : new String[][] {{"HOTCOLD_JOIN", "dev.hotcold.flink.HotcoldJoin"}, {"HOTCOLD_LEFT_JOIN", "dev.hotcold.flink.HotcoldLeftJoin"}}) {
      try {
        t.createTemporarySystemFunction(f[0], Class.forName(f[1]).asSubclass(org.apache.flink.table.functions.UserDefinedFunction.class));
      } catch (ClassNotFoundException e) {
        // Flink 1.20 build
      }
    }
    AtomicReference<JobClient> running = new AtomicReference<>();
    Thread hook = new Thread(() -> {
      JobClient j = running.get();
      if (j != null) {
        err.println("hotcold-flink sql: terminated: cancelling job " + j.getJobID());
        try {
          j.cancel().get();
          err.println("hotcold-flink sql: job " + j.getJobID() + " cancelled");
        } catch (Exception e) {
          err.println("hotcold-flink sql: cancelling job " + j.getJobID() + ": " + e);
        }
      }
    }, "hotcold-sql-cancel");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      for (SqlScript.Statement s : statements) {
        String where = file + ":" + s.line();
        java.util.regex.Matcher set = SET.matcher(s.sql());
        if (set.matches()) {
          // SET 'key' = 'value' (the SQL client's statement; TableEnvironment has none).
          t.getConfig().set(set.group(1).replace("''", "'"), set.group(2).replace("''", "'"));
          continue;
        }
        TableResult r;
        try {
          r = t.executeSql(s.sql());
        } catch (Exception e) {
          err.println("hotcold-flink sql: " + where + ": " + rootMessage(e));
          return 1;
        }
        if (r.getJobClient().isEmpty()) {
          if (s.sql().toUpperCase(Locale.ROOT).startsWith("SHOW") || s.sql().toUpperCase(Locale.ROOT).startsWith("DESC")
              || s.sql().toUpperCase(Locale.ROOT).startsWith("EXPLAIN")) {
            r.print();
          }
          continue;
        }
        JobClient job = r.getJobClient().get();
        running.set(job);
        err.println("hotcold-flink sql: " + where + ": job " + job.getJobID() + " started");
        try {
          if (isQuery(s.sql())) {
            r.print();
          } else {
            r.await();
          }
        } catch (Exception e) {
          err.println("hotcold-flink sql: " + where + ": job " + job.getJobID() + " failed: " + rootMessage(e));
          return 1;
        } finally {
          running.set(null);
        }
        err.println("hotcold-flink sql: " + where + ": job " + job.getJobID() + " finished");
      }
      return 0;
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the hook is running: it cancels the job
      }
    }
  }

  private static final java.util.regex.Pattern SET =
      java.util.regex.Pattern.compile("(?is)SET\\s+'((?:[^']|'')*)'\\s*=\\s*'((?:[^']|'')*)'");

  private static boolean isQuery(String sql) {
    String u = sql.stripLeading().toUpperCase(Locale.ROOT);
    return u.startsWith("SELECT") || u.startsWith("WITH") || u.startsWith("VALUES") || u.startsWith("(");
  }

  private static String rootMessage(Throwable e) {
    StringBuilder b = new StringBuilder(String.valueOf(e.getMessage()));
    String last = e.getMessage();
    for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
      if (c.getMessage() != null && (last == null || !last.contains(c.getMessage()))) {
        b.append("\n  caused by: ").append(c.getMessage());
        last = c.getMessage();
      }
    }
    return b.toString();
  }
}
