package dev.hotcold.flink;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A Flink SQL script: ${NAME} substitution from the environment, then split
 * into statements at the semicolons outside quotes and comments; an
 * {@code EXECUTE STATEMENT SET BEGIN ... END} block is one statement.
 */
final class SqlScript {
  private SqlScript() {}

  /** One statement and the line it starts on. */
  record Statement(String sql, int line) {}

  /**
   * Replaces every ${NAME} (comments included) with env's value; $${NAME}
   * stays literally ${NAME}. Fails naming the file, line and column of an
   * unset or malformed reference.
   */
  static String substitute(String file, String text, Map<String, String> env) {
    StringBuilder out = new StringBuilder(text.length());
    int line = 1, col = 1;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '$' && i + 1 < text.length() && text.charAt(i + 1) == '$' && i + 2 < text.length() && text.charAt(i + 2) == '{') {
        out.append('$');
        i++;
        col += 2;
        continue;
      }
      if (c == '$' && i + 1 < text.length() && text.charAt(i + 1) == '{') {
        int end = text.indexOf('}', i + 2);
        String name = end < 0 ? "" : text.substring(i + 2, end);
        if (end < 0 || !name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
          throw new IllegalArgumentException(file + ":" + line + ":" + col
              + ": a variable reference is ${NAME} with NAME letters, digits and _ (write $${ for a literal ${)");
        }
        String v = env.get(name);
        if (v == null) {
          throw new IllegalArgumentException(file + ":" + line + ":" + col + ": ${" + name + "} is not set in the environment; export "
              + name + "=... before running");
        }
        out.append(v);
        col += end - i + 1;
        i = end;
        continue;
      }
      out.append(c);
      if (c == '\n') {
        line++;
        col = 1;
      } else {
        col++;
      }
    }
    return out.toString();
  }

  /** Splits a script into its statements (without the semicolons); empty ones are dropped. */
  static List<Statement> split(String text) {
    List<Statement> out = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    int line = 1, start = -1;
    boolean inSet = false;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      char next = i + 1 < text.length() ? text.charAt(i + 1) : 0;
      if (c == '-' && next == '-') { // comment to the end of the line
        int end = text.indexOf('\n', i);
        i = (end < 0 ? text.length() : end) - 1;
        continue;
      }
      if (c == '/' && next == '*') {
        int end = text.indexOf("*/", i + 2);
        String comment = text.substring(i, end < 0 ? text.length() : end + 2);
        line += comment.chars().filter(ch -> ch == '\n').count();
        i = (end < 0 ? text.length() : end + 2) - 1;
        cur.append(' ');
        continue;
      }
      if (c == '\'' || c == '`' || c == '"') {
        int j = i + 1;
        while (j < text.length()) {
          if (text.charAt(j) == c) {
            if (j + 1 < text.length() && text.charAt(j + 1) == c) {
              j += 2; // doubled quote
              continue;
            }
            break;
          }
          j++;
        }
        String quoted = text.substring(i, Math.min(j + 1, text.length()));
        if (start < 0) {
          start = line;
        }
        cur.append(quoted);
        line += quoted.chars().filter(ch -> ch == '\n').count();
        i = j;
        continue;
      }
      if (c == '\n') {
        line++;
      }
      if (c == ';') {
        String s = cur.toString().strip();
        String upper = s.toUpperCase(Locale.ROOT).replaceAll("\\s+", " ");
        if (!inSet && (upper.startsWith("EXECUTE STATEMENT SET") || upper.startsWith("BEGIN STATEMENT SET"))) {
          inSet = true;
        }
        if (inSet && !upper.endsWith(" END")) {
          cur.append(c);
          continue;
        }
        inSet = false;
        if (!s.isEmpty()) {
          out.add(new Statement(s, start));
        }
        cur.setLength(0);
        start = -1;
        continue;
      }
      if (start < 0 && !Character.isWhitespace(c)) {
        start = line;
      }
      cur.append(c);
    }
    String s = cur.toString().strip();
    if (!s.isEmpty()) {
      out.add(new Statement(s, start));
    }
    return out;
  }
}
