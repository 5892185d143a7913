package dev.hotcold.kafka.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class KafkaBrokerTest {
  @RegisterExtension
  static final KafkaBroker kafka = new KafkaBroker();

  @Test
  void servesProduceAndFetchOnLoopback() throws Exception {
    assertTrue(kafka.bootstrapServers().matches("127\\.0\\.0\\.1:\\d+"), kafka.bootstrapServers());
    kafka.createTopic("orders", 3);
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
      assertEquals(3, admin.describeTopics(List.of("orders")).allTopicNames().get().get("orders").partitions().size());
    }
    try (KafkaProducer<String, String> p = new KafkaProducer<>(Map.of(
        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
        ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
        ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class))) {
      p.send(new ProducerRecord<>("orders", 1, "o-1", "{\"amount\":7}")).get();
    }
    try (KafkaConsumer<String, String> c = new KafkaConsumer<>(Map.of(
        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
        ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class,
        ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class))) {
      TopicPartition tp = new TopicPartition("orders", 1);
      c.assign(Set.of(tp));
      c.seekToBeginning(Set.of(tp));
      List<ConsumerRecord<String, String>> got = new ArrayList<>();
      while (got.isEmpty()) {
        c.poll(Duration.ofSeconds(1)).forEach(got::add);
      }
      assertEquals("o-1", got.get(0).key());
      assertEquals("{\"amount\":7}", got.get(0).value());
    }
  }

  @Test
  void createTopicReportsTheBrokersError() throws Exception {
    kafka.createTopic("twice", 1);
    IOException e = assertThrows(IOException.class, () -> kafka.createTopic("twice", 1));
    assertTrue(e.getMessage().contains("TopicExistsException") && e.getMessage().contains("twice"), e.getMessage());
  }

  @Test
  void closeStopsTheBrokerProcess() throws Exception {
    KafkaBroker own = new KafkaBroker().withConfig("num.partitions", "2").start();
    String[] hp = own.bootstrapServers().split(":");
    own.close();
    // Stopped: nothing listens on its port any more.
    assertThrows(IOException.class, () -> {
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress(hp[0], Integer.parseInt(hp[1])), 2000);
      }
    });
  }
}
