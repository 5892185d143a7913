package dev.hotcold.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SqlScriptTest {
  @Test
  void substitutesVariablesAndKeepsEscapes() {
    assertEquals("a 'x' ${C} $5", SqlScript.substitute("j.sql", "a '${A}' $${C} $5", Map.of("A", "x")));
  }

  @Test
  void unsetVariableNamesFileLineAndColumn() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SqlScript.substitute("job.sql", "SELECT 1;\n  SELECT '${NOPE}';", Map.of()));
    assertEquals("job.sql:2:11: ${NOPE} is not set in the environment; export NOPE=... before running", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> SqlScript.substitute("job.sql", "x ${1a}", Map.of()));
    assertEquals(true, e.getMessage().startsWith("job.sql:1:3: a variable reference is ${NAME}"), e.getMessage());
  }

  @Test
  void splitsAtSemicolonsOutsideQuotesAndComments() {
    List<SqlScript.Statement> s = SqlScript.split(
        "-- a comment; not a statement\nCREATE TABLE t (a STRING) WITH ('x' = 'a;b');\n\n/* c; */ INSERT INTO t SELECT 'it''s;';\nSELECT `a;b` FROM t");
    assertEquals(List.of(
        new SqlScript.Statement("CREATE TABLE t (a STRING) WITH ('x' = 'a;b')", 2),
        new SqlScript.Statement("INSERT INTO t SELECT 'it''s;'", 4),
        new SqlScript.Statement("SELECT `a;b` FROM t", 5)), s);
  }

  @Test
  void statementSetIsOneStatement() {
    List<SqlScript.Statement> s = SqlScript.split(
        "EXECUTE STATEMENT SET BEGIN\nINSERT INTO a SELECT 1;\nINSERT INTO b SELECT 2;\nEND;\nSELECT 3;");
    assertEquals(2, s.size());
    assertEquals("EXECUTE STATEMENT SET BEGIN\nINSERT INTO a SELECT 1;\nINSERT INTO b SELECT 2;\nEND", s.get(0).sql());
    assertEquals(new SqlScript.Statement("SELECT 3", 5), s.get(1));
  }
}
