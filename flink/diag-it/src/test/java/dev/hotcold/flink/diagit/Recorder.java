package dev.hotcold.flink.diagit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;

/**
 * Records the REST answers that `hotcold diag run` reads into a directory
 * in diag.ReplayHandler's layout (a request for path P is DIR/P.json), so
 * the Go fixture tests replay what a real Flink answered. Metric endpoints
 * are recorded with every metric and its value (ReplayHandler answers
 * ?get= from them and the bare listing with the ids, as Flink does).
 */
final class Recorder {
  private final Rest rest;
  private final Path dir;

  Recorder(Rest rest, Path dir) {
    this.rest = rest;
    this.dir = dir;
  }

  void job(String jobId, List<String> flameGraphVertices) throws Exception {
    String jp = "/jobs/" + jobId;
    JsonNode job = rest.get(jp);
    save(jp, rest.getText(jp));
    metrics(jp + "/metrics");
    save(jp + "/exceptions", rest.getText(jp + "/exceptions?maxExceptions=20"));
    save(jp + "/checkpoints", rest.getText(jp + "/checkpoints"));
    List<String> tms = new ArrayList<>();
    for (JsonNode v : job.get("vertices")) {
      String vp = jp + "/vertices/" + v.get("id").asText();
      JsonNode det = rest.get(vp);
      save(vp, Rest.JSON.writeValueAsString(det));
      save(vp + "/backpressure", rest.getText(vp + "/backpressure"));
      for (JsonNode s : det.get("subtasks")) {
        metrics(vp + "/subtasks/" + s.get("subtask").asInt() + "/metrics");
        String tm = s.path("taskmanager-id").asText("");
        if (!tm.isEmpty() && !tms.contains(tm)) {
          tms.add(tm);
        }
      }
      if (flameGraphVertices.contains(v.get("id").asText())) {
        save(vp + "/flamegraph", rest.getText(vp + "/flamegraph?type=on_cpu"));
      }
    }
    for (String tm : tms) {
      metrics("/taskmanagers/" + tm + "/metrics");
    }
  }

  private void metrics(String path) throws Exception {
    JsonNode ids = rest.get(path);
    StringBuilder get = new StringBuilder();
    for (JsonNode m : ids) {
      if (get.length() > 0) {
        get.append(',');
      }
      get.append(m.get("id").asText());
    }
    String body = get.length() == 0 ? "[]" : rest.getText(path + "?get=" + java.net.URLEncoder.encode(get.toString(), StandardCharsets.UTF_8));
    save(path, body);
  }

  private void save(String path, String body) throws IOException {
    Path f = dir.resolve(path.substring(1) + ".json");
    Files.createDirectories(f.getParent());
    // Pretty, so that a diff of a re-recording reads.
    Files.writeString(f, Rest.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(Rest.JSON.readTree(body)) + "\n");
  }
}
