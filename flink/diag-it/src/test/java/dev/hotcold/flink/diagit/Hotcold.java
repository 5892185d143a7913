package dev.hotcold.flink.diagit;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Builds the hotcold binary of this repository with `go build`. */
final class Hotcold {
  private Hotcold() {}

  static Path build() throws Exception {
    Path repo = Path.of(System.getProperty("hotcold.repo", "../..")).toAbsolutePath().normalize();
    Path out = Path.of(System.getProperty("hotcold.build", "target")).toAbsolutePath().resolve("go");
    Files.createDirectories(out);
    Path bin = out.resolve("hotcold");
    List<String> cmd = List.of(goTool(), "build", "-o", bin.toString(), "./cmd/hotcold");
    Process p = new ProcessBuilder(cmd).directory(repo.toFile()).redirectErrorStream(true).start();
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException(String.join(" ", cmd) + " failed (" + p.exitValue() + "):\n" + log);
    }
    return bin;
  }

  private static String goTool() {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (Files.isExecutable(Path.of(dir, "go"))) {
        return Path.of(dir, "go").toString();
      }
    }
    if (Files.isExecutable(Path.of("/usr/local/go/bin/go"))) {
      return "/usr/local/go/bin/go";
    }
    throw new IllegalStateException("the Go toolchain (go) is not on PATH: DiagRealFlinkIT builds hotcold from this repository with it");
  }
}
