package dev.hotcold.client;

/** How a client reaches the sidecar; see {@link HotcoldLookupClient#transport()}. */
public enum Transport {
  /** TCP, usually to the sidecar on loopback. */
  TCP,
  /** A unix-domain socket, through Netty's native epoll transport. */
  UNIX
}
