package dev.hotcold.flink;

import java.time.Duration;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;

/** The options of {@code 'connector' = 'hotcold'} (see the README's type and option tables). */
public final class HotcoldOptions {
  private HotcoldOptions() {}

  public static final ConfigOption<String> ADDRESS =
      ConfigOptions.key("address")
          .stringType()
          .noDefaultValue()
          .withDescription(
              "The sidecar (hotcold serve): unix:///path/hotcold.sock (its --unix) or host:port (its --listen).");

  public static final ConfigOption<String> TABLE =
      ConfigOptions.key("table").stringType().noDefaultValue().withDescription("The cold table to read.");

  public static final ConfigOption<String> TOKEN =
      ConfigOptions.key("token")
          .stringType()
          .noDefaultValue()
          .withDescription("The job's bearer token (sidecar.yaml jobs[].token). Prefer token-file.");

  public static final ConfigOption<String> TOKEN_FILE =
      ConfigOptions.key("token-file")
          .stringType()
          .noDefaultValue()
          .withDescription("A file holding the job's token, read on each TaskManager when the lookup opens.");

  public static final ConfigOption<Boolean> ASYNC =
      ConfigOptions.key("lookup.async")
          .booleanType()
          .defaultValue(true)
          .withDescription("Look up asynchronously (AsyncLookupFunction); false for a synchronous LookupFunction.");

  public static final ConfigOption<Integer> BATCH_SIZE =
      ConfigOptions.key("lookup.batch-size")
          .intType()
          .defaultValue(256)
          .withDescription(
              "Most keys in one BatchLookup call; concurrent lookups of a subtask are coalesced up to it. At most the sidecar's max_batch.");

  public static final ConfigOption<Integer> MAX_IN_FLIGHT =
      ConfigOptions.key("lookup.max-in-flight")
          .intType()
          .defaultValue(4)
          .withDescription("BatchLookup calls a subtask may have in flight; further lookups wait and join the next batch.");

  public static final ConfigOption<Integer> MAX_RETRIES =
      ConfigOptions.key("lookup.max-retries")
          .intType()
          .defaultValue(10)
          .withDescription(
              "Retries of a call failing with UNAVAILABLE (sidecar restarting), with backoff 25ms doubling to 1s; lookup.timeout bounds them.");

  public static final ConfigOption<Duration> TIMEOUT =
      ConfigOptions.key("lookup.timeout")
          .durationType()
          .defaultValue(Duration.ofSeconds(10))
          .withDescription("Deadline of one lookup, retries included; past it the lookup fails the job.");

  public static final ConfigOption<Boolean> TLS =
      ConfigOptions.key("tls")
          .booleanType()
          .defaultValue(false)
          .withDescription(
              "Speak TLS to a host:port address (the sidecar's --tls-cert), trusting the JVM's default trust store unless 'tls.ca' is set. Implied by any other tls.* option.");

  public static final ConfigOption<String> TLS_CA =
      ConfigOptions.key("tls.ca")
          .stringType()
          .noDefaultValue()
          .withDescription("A PEM file of the CA certificates to trust for the sidecar's certificate (implies 'tls').");

  public static final ConfigOption<String> TLS_CERT =
      ConfigOptions.key("tls.cert")
          .stringType()
          .noDefaultValue()
          .withDescription("The client certificate (PEM) for a sidecar requiring mutual TLS (its --tls-client-ca); with 'tls.key'.");

  public static final ConfigOption<String> TLS_KEY =
      ConfigOptions.key("tls.key")
          .stringType()
          .noDefaultValue()
          .withDescription("The client certificate's private key, PKCS#8 PEM (openssl pkcs8 -topk8 -nocrypt); with 'tls.cert'.");

  public static final ConfigOption<String> TLS_SERVER_NAME =
      ConfigOptions.key("tls.server-name")
          .stringType()
          .noDefaultValue()
          .withDescription("The name the sidecar's certificate must carry when it differs from the address's host.");
}
