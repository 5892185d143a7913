package dev.hotcold.flink;

import dev.hotcold.client.HotcoldLookupClient;

/** The 'address' option: unix:///path/to/hotcold.sock or host:port. */
record Address(String unixSocket, String target) {
  static Address parse(String s) {
    if (s == null || s.isBlank()) {
      throw new IllegalArgumentException("'address' is empty: set it to unix:///path/hotcold.sock or host:port");
    }
    if (s.startsWith("unix://")) {
      String path = s.substring("unix://".length());
      if (!path.startsWith("/")) {
        throw new IllegalArgumentException("'address' " + s + ": a unix socket address is unix:///absolute/path.sock");
      }
      return new Address(path, null);
    }
    if (s.startsWith("unix:")) {
      throw new IllegalArgumentException("'address' " + s + ": write a unix socket as unix:///absolute/path.sock");
    }
    int colon = s.lastIndexOf(':');
    if (colon <= 0 || colon == s.length() - 1 || !s.substring(colon + 1).chars().allMatch(Character::isDigit)) {
      throw new IllegalArgumentException("'address' " + s + ": want host:port (e.g. 127.0.0.1:7070) or unix:///path.sock");
    }
    return new Address(null, s);
  }

  void configure(HotcoldLookupClient.Builder b) {
    if (unixSocket != null) {
      b.unixSocket(unixSocket);
    } else {
      b.target(target);
    }
  }
}
