package dev.hotcold.flink.diagit;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.function.Predicate;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

/** A GET-only client of Flink's REST API, answering parsed JSON. */
final class Rest {
  static final ObjectMapper JSON = new ObjectMapper();

  private final String base;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  Rest(String base) {
    this.base = base;
  }

  String base() {
    return base;
  }

  /** The raw body of GET base+path; fails on a non-2xx answer. */
  String getText(String path) throws IOException, InterruptedException {
    HttpRequest req = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30)).GET().build();
    HttpResponse<String> resp = http.send(req, HttpResponse.BodyHandlers.ofString());
    if (resp.statusCode() / 100 != 2) {
      throw new IOException("GET " + path + ": HTTP " + resp.statusCode() + ": " + resp.body());
    }
    return resp.body();
  }

  JsonNode get(String path) throws IOException, InterruptedException {
    return JSON.readTree(getText(path));
  }

  /**
   * Polls GET path until cond holds for its answer, and returns that
   * answer; fails with the last answer after timeout. Polling is the only
   * way to learn of these states: Flink's REST API has no notifications.
   */
  JsonNode await(String what, String path, Duration timeout, Predicate<JsonNode> cond) throws Exception {
    long end = System.nanoTime() + timeout.toNanos();
    JsonNode last = null;
    Exception lastErr = null;
    while (true) {
      try {
        last = get(path);
        if (cond.test(last)) {
          return last;
        }
      } catch (IOException e) {
        lastErr = e;
      }
      if (System.nanoTime() > end) {
        AssertionError ae = new AssertionError("timed out after " + timeout + " waiting for " + what + "; last answer of GET " + path + ": " + last);
        if (lastErr != null) {
          ae.addSuppressed(lastErr);
        }
        throw ae;
      }
      Thread.sleep(200); // poll interval
    }
  }
}
