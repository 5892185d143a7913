# hotcold — build, test, benchmark.
#
#   make test    everything CI runs: gofmt, go vet, go mod tidy -diff, all Go tests with -race,
#                then the Java client and the Flink module (mvn -f flink verify)
#   make demo    the whole story on one machine
#   make bench   regenerate BENCHMARKS.md

GO ?= go
PKGS := ./...

.PHONY: test gotest flinktest vet fmt tidy build demo bench generate fuzz clients

build:
	$(GO) build -o bin/hotcold ./cmd/hotcold

test: fmt vet tidy gotest flinktest

gotest:
	$(GO) test -race -count=1 -timeout 10m $(PKGS)

# The Flink module needs JDK 17 and Maven; without them it is skipped, unless
# HOTCOLD_REQUIRE_JAVA=1 (as in CI), where it fails.
flinktest:
	@if command -v mvn >/dev/null && command -v javac >/dev/null; then \
	  mvn -B --no-transfer-progress -f flink verify; \
	elif [ "$${HOTCOLD_REQUIRE_JAVA:-}" = 1 ]; then \
	  echo "flinktest: mvn and javac are required (apt-get install maven default-jdk-headless)"; exit 1; \
	else echo "flinktest: skipped (no mvn/javac)"; fi

vet:
	$(GO) vet $(PKGS)

# go.mod and go.sum must be what go mod tidy writes.
tidy:
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum are not tidy: run go mod tidy"; $(GO) mod tidy -diff; exit 1; }

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

generate:
	$(GO) generate ./...

demo:
	$(GO) run ./cmd/hotcold demo

bench:
	$(GO) run ./internal/benchreport --out BENCHMARKS.md

# Run every fuzz target for a short while (FUZZTIME=30s make fuzz).
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done
