# ddp-verify: build, test, benchmark, lint.
GO      ?= go
BIN     ?= bin/ddp-verify
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# Tests may take a while on 2 cores (embedded Prometheus, platform processes).
TEST_TIMEOUT ?= 20m

.PHONY: all build test bench lint demo smoke-check rehearsal-check clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/ddp-verify

test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

# Benchmarks print their figures (ops, req/CPU-s, bytes per VU, ...) as custom metrics.
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# The newcomer's first run: the smoke profile (about 2.5 minutes) against the local reference
# platform; the verdict and the report paths are printed at the end.
demo: build
	$(BIN) run --profile smoke --out reports/demo

# What CI checks end to end: a smoke run that must be GO with every objective evaluated, the
# node failure injected and recovered, no video lost and the four reports valid.
smoke-check: build
	rm -rf reports/ci-smoke
	$(BIN) run --profile smoke --out reports/ci-smoke
	$(GO) run ./internal/cmd/checkrun -verdict GO -faults 1 reports/ci-smoke

# The launch profile rehearsed at time scale 0.05 (about 4 minutes): GO, both faults injected
# and recovered, and exactly the two objectives that need full-length windows (plateau
# throughput, realtime ratio) listed as not evaluated; every other objective has data.
rehearsal-check: build
	rm -rf reports/ci-launch-rehearsal
	$(BIN) run --profile launch --time-scale 0.05 --out reports/ci-launch-rehearsal
	$(GO) run ./internal/cmd/checkrun -verdict GO -faults 2 \
		-not-evaluated throughput_videos_per_hour,video_processing_p95_realtime reports/ci-launch-rehearsal

clean:
	rm -rf bin
