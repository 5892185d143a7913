# hotcold — build, test, benchmark.
#
#   make test    everything CI runs: gofmt, go vet, go mod tidy -diff, all tests with -race
#   make demo    the whole story on one machine
#   make bench   regenerate BENCHMARKS.md

GO ?= go
PKGS := ./...

.PHONY: test vet fmt tidy build demo bench generate fuzz clients

build:
	$(GO) build -o bin/hotcold ./cmd/hotcold

test: fmt vet tidy
	$(GO) test -race -count=1 -timeout 10m $(PKGS)

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
