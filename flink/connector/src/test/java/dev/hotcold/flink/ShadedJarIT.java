package dev.hotcold.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** target/hotcold-flink.jar: everything relocated, and the relocated client works on its own. */
class ShadedJarIT {
  static Path jar() {
    Path p = Path.of(System.getProperty("hotcold.jar", "target/hotcold-flink.jar"));
    assertTrue(Files.isRegularFile(p), p + " is missing: run mvn package first");
    return p;
  }

  @Test
  void everyClassIsUnderDevHotcold() throws Exception {
    List<String> outside = new ArrayList<>();
    boolean epoll = false, factory = false;
    try (JarFile j = new JarFile(jar().toFile())) {
      for (JarEntry e : java.util.Collections.list(j.entries())) {
        String n = e.getName();
        if (n.endsWith(".class") && !n.startsWith("dev/hotcold/") && !n.startsWith("META-INF/versions/")) {
          outside.add(n);
        }
        if (n.startsWith("META-INF/versions/") && n.endsWith(".class") && !n.matches("META-INF/versions/\\d+/dev/hotcold/.*")) {
          outside.add(n);
        }
        epoll |= n.equals("META-INF/native/libdev_hotcold_shaded_netty_transport_native_epoll_x86_64.so");
        factory |= n.equals("META-INF/services/org.apache.flink.table.factories.Factory");
      }
    }
    assertEquals(List.of(), outside, "classes not relocated");
    assertTrue(epoll, "the relocated epoll native library is missing");
    assertTrue(factory, "the connector's factory service file is missing");
  }

  @Test
  void relocatedClientLooksUpOverTheUnixSocketWithNothingElseOnTheClasspath(@TempDir Path dir) throws Exception {
    try (Sidecar sidecar = Sidecar.start(dir, TestData.users());
        URLClassLoader cl = new URLClassLoader(new URL[] {jar().toUri().toURL()}, ClassLoader.getPlatformClassLoader())) {
      Class<?> clientClass = cl.loadClass("dev.hotcold.client.HotcoldLookupClient");
      Object b = clientClass.getMethod("newBuilder").invoke(null);
      Class<?> bc = b.getClass();
      bc.getMethod("unixSocket", String.class).invoke(b, sidecar.unix.toString());
      bc.getMethod("token", String.class).invoke(b, Sidecar.TOKEN);
      try (AutoCloseable client = (AutoCloseable) bc.getMethod("build").invoke(b)) {
        assertEquals("UNIX", clientClass.getMethod("transport").invoke(client).toString(), "Netty's relocated native epoll must load");
        Method lookup = clientClass.getMethod("lookup", String.class, Object[].class);
        Optional<?> row = (Optional<?>) lookup.invoke(client, "users", new Object[] {7L});
        Object r = row.orElseThrow();
        assertEquals("user-7", r.getClass().getMethod("getString", String.class).invoke(r, "name"));
        assertTrue(((Optional<?>) lookup.invoke(client, "users", new Object[] {700L})).isEmpty());
        assertTrue(clientClass.getClassLoader() == cl);
        assertTrue(cl.loadClass("dev.hotcold.shaded.io.grpc.ManagedChannel").getClassLoader() == cl);
      }
    }
  }
}
