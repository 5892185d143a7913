package dev.hotcold.client;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.unix.DomainSocketAddress;
import java.util.concurrent.ThreadFactory;
import java.util.function.UnaryOperator;

/**
 * The unix-socket transport. It refers to Netty's epoll classes, so it is
 * only loaded after {@link #unavailability()} found them: the client works
 * without netty-transport-native-epoll on the classpath.
 */
final class EpollSupport {
  private EpollSupport() {}

  /** Null when unix sockets work here, else why they do not. */
  static String unavailability() {
    try {
      Class.forName("io.netty.channel.epoll.Epoll", false, EpollSupport.class.getClassLoader());
    } catch (ClassNotFoundException | LinkageError e) {
      return "io.netty:netty-transport-native-epoll is not on the classpath";
    }
    return Native.unavailability();
  }

  /** The channel and the event loop group the caller must shut down after it. */
  record Opened(ManagedChannel channel, EventLoopGroup group) {}

  static Opened open(String path, ThreadFactory threads, UnaryOperator<NettyChannelBuilder> configure) {
    return Native.open(path, threads, configure);
  }

  /** Holds the references to epoll classes. */
  private static final class Native {
    static String unavailability() {
      try {
        if (Epoll.isAvailable()) {
          return null;
        }
        return "Netty's native epoll transport does not load: " + Epoll.unavailabilityCause();
      } catch (LinkageError e) {
        return "Netty's native epoll transport does not load: " + e;
      }
    }

    static Opened open(String path, ThreadFactory threads, UnaryOperator<NettyChannelBuilder> configure) {
      EventLoopGroup group = new EpollEventLoopGroup(1, threads);
      try {
        NettyChannelBuilder b =
            NettyChannelBuilder.forAddress(new DomainSocketAddress(path))
                .eventLoopGroup(group)
                .channelType(EpollDomainSocketChannel.class)
                .overrideAuthority("localhost");
        return new Opened(configure.apply(b).build(), group);
      } catch (RuntimeException e) {
        group.shutdownGracefully();
        throw e;
      }
    }
  }
}
