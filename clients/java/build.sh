#!/usr/bin/env bash
# Builds the Java lookup client with the JDK, protoc and Debian's jars: no
# Maven repository needed (users with one use pom.xml instead, see README).
#
#   clients/java/build.sh              generate the stubs, compile, write build/hotcold-client.jar
#   clients/java/build.sh test         build, compile the tests and run them against the sidecar
#                                      that HOTCOLD_TEST_* describe (the Go harness sets them;
#                                      without them this runs `go test ./clients -run TestJavaClient`)
#   clients/java/build.sh classpath    print the runtime classpath (jar + dependencies)
#   clients/java/build.sh check        check that the tools and jars are installed (names the packages)
#
# Debian packages: default-jdk-headless protobuf-compiler protobuf-compiler-grpc-java-plugin
# libgrpc-java libprotobuf-java libnetty-java libperfmark-java libgoogle-gson-java libguava-java
# junit4 (tests). JAVA_LIB overrides /usr/share/java; HOTCOLD_JAVA_BUILD the build directory.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
lib=${JAVA_LIB:-/usr/share/java}
out=${HOTCOLD_JAVA_BUILD:-$here/build}
proto_root=$repo/proto
proto=hotcold/lookup/v1/lookup.proto

# javac and the tests are short runs: the C1 compiler alone starts them
# several times faster.
javac_fast=(-J-XX:TieredStopAtLevel=1 -J-XX:+UseSerialGC)
java_fast=(-XX:TieredStopAtLevel=1 -XX:+UseSerialGC)

die() { echo "clients/java/build.sh: $*" >&2; exit 1; }

# Jars as "file:debian-package".
main_jars=(
  grpc-api.jar:libgrpc-java grpc-core.jar:libgrpc-java grpc-context.jar:libgrpc-java
  grpc-stub.jar:libgrpc-java grpc-protobuf.jar:libgrpc-java grpc-protobuf-lite.jar:libgrpc-java
  grpc-netty.jar:libgrpc-java protobuf.jar:libprotobuf-java guava.jar:libguava-java
  error_prone_annotations.jar:liberror-prone-java perfmark-api.jar:libperfmark-java gson.jar:libgoogle-gson-java
  netty-common.jar:libnetty-java netty-buffer.jar:libnetty-java netty-transport.jar:libnetty-java
  netty-resolver.jar:libnetty-java netty-codec.jar:libnetty-java netty-codec-http.jar:libnetty-java
  netty-codec-http2.jar:libnetty-java netty-handler.jar:libnetty-java netty-handler-proxy.jar:libnetty-java
  netty-codec-socks.jar:libnetty-java netty-transport-native-unix-common.jar:libnetty-java
  netty-transport-native-epoll.jar:libnetty-java
)
test_jars=(junit4.jar:junit4 hamcrest-core.jar:libhamcrest-java)

classpath() { # jar specs... -> colon-separated paths; dies listing missing packages
  local cp="" missing=() spec f
  for spec in "$@"; do
    f=$lib/${spec%%:*}
    if [ -f "$f" ]; then cp+="${cp:+:}$f"; else missing+=("${spec##*:}"); fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    die "missing jars in $lib; install: apt-get install $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"
  fi
  printf '%s' "$cp"
}

plugin() {
  local p
  for p in "$(command -v protoc-gen-grpc-java || true)" /usr/bin/grpc_java_plugin \
           /usr/lib/protobuf-compiler-grpc-java-plugin/protoc-gen-grpc-java; do
    if [ -n "$p" ] && [ -x "$p" ]; then echo "$p"; return; fi
  done
  die "the gRPC Java protoc plugin is missing; install: apt-get install protobuf-compiler-grpc-java-plugin"
}

build() {
  command -v javac >/dev/null || die "javac is missing; install: apt-get install default-jdk-headless"
  command -v protoc >/dev/null || die "protoc is missing; install: apt-get install protobuf-compiler"
  local cp; cp=$(classpath "${main_jars[@]}")
  mkdir -p "$out"

  # Stubs: generated from the proto at every build (never committed), so
  # they always match it.
  local gp; gp=$(plugin)
  rm -rf "$out/gen" "$out/stubs-classes"
  mkdir -p "$out/gen" "$out/stubs-classes"
  protoc -I "$proto_root" --java_out="$out/gen" \
    --plugin=protoc-gen-grpc-java="$gp" --grpc-java_out="$out/gen" "$proto"
  # grpc-java 1.41's generator annotates with javax.annotation.Generated,
  # which Java 11+ no longer ships (a source-only annotation): drop it.
  sed -i '/^@javax\.annotation\.Generated($/,/)$/d' "$out/gen/dev/hotcold/lookup/v1/LookupServiceGrpc.java"
  find "$out/gen" -name '*.java' >"$out/gen.files"
  javac "${javac_fast[@]}" -nowarn --release 17 -encoding UTF-8 -d "$out/stubs-classes" -cp "$cp" @"$out/gen.files"

  rm -rf "$out/classes"
  mkdir -p "$out/classes"
  find "$here/src/main/java" -name '*.java' >"$out/main.files"
  javac "${javac_fast[@]}" --release 17 -encoding UTF-8 -Xlint:all -Xlint:-serial -Werror -d "$out/classes" \
    -cp "$out/stubs-classes:$cp" @"$out/main.files"
  jar -J-XX:TieredStopAtLevel=1 --create --file "$out/hotcold-client.jar" -C "$out/stubs-classes" . -C "$out/classes" .
  echo "clients/java: built $out/hotcold-client.jar"
}

run_tests() {
  local cp tcp; cp=$(classpath "${main_jars[@]}"); tcp=$(classpath "${test_jars[@]}")
  rm -rf "$out/test-classes"
  mkdir -p "$out/test-classes"
  find "$here/src/test/java" -name '*.java' >"$out/test.files"
  javac "${javac_fast[@]}" --release 17 -encoding UTF-8 -Xlint:all -Xlint:-serial -Werror -d "$out/test-classes" \
    -cp "$out/hotcold-client.jar:$cp:$tcp" @"$out/test.files"
  java "${java_fast[@]}" -cp "$out/test-classes:$out/hotcold-client.jar:$cp:$tcp" org.junit.runner.JUnitCore \
    dev.hotcold.client.BatcherTest dev.hotcold.client.ValuesTest dev.hotcold.client.HotcoldLookupClientIT
}

check() {
  command -v javac >/dev/null || die "javac is missing; install: apt-get install default-jdk-headless"
  command -v java >/dev/null || die "java is missing; install: apt-get install default-jdk-headless"
  command -v protoc >/dev/null || die "protoc is missing; install: apt-get install protobuf-compiler"
  plugin >/dev/null
  classpath "${main_jars[@]}" "${test_jars[@]}" >/dev/null
}

case "${1:-build}" in
  check) check ;;
  build) build ;;
  test)
    if [ -z "${HOTCOLD_TEST_TCP:-}" ]; then
      # The tests need a sidecar over a loaded store: the Go harness starts
      # one and runs this script again with HOTCOLD_TEST_* set.
      cd "$repo" && exec go test -count=1 -run 'TestJavaClient' ./clients/
    fi
    build
    run_tests
    ;;
  classpath) build >/dev/null; echo "$out/hotcold-client.jar:$(classpath "${main_jars[@]}")" ;;
  *) die "unknown command ${1}; use build, test, classpath or check" ;;
esac
