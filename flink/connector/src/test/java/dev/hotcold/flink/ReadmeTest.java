package dev.hotcold.flink;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The README's Flink SQL is the example the runner tests run. */
class ReadmeTest {
  @Test
  void readmeShowsTheTestedExampleVerbatim() throws Exception {
    Path repo = Path.of(System.getProperty("hotcold.repo", "../.."));
    String readme = Files.readString(repo.resolve("README.md"));
    String example = Files.readString(repo.resolve("flink/examples/enrich.sql"));
    assertTrue(readme.contains("```sql\n" + example + "```"), "README.md must show flink/examples/enrich.sql verbatim in a ```sql block");
  }
}
