# ig: eBPF gadgets with WebAssembly post-processors.
# Everything here runs as root on the build machine (eBPF needs it).

GO       ?= go
BIN      := bin
IG       := $(BIN)/ig
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.1.0-dev)
LDFLAGS  := -X github.com/gadgetkit/ig/internal/version.Version=$(VERSION)
GADGETS  := $(patsubst gadgets/%/gadget.yaml,%,$(wildcard gadgets/*/gadget.yaml))
TIMEOUT  ?= 5

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: setup
setup: ## Install clang, llvm, lld, libbpf-dev, bpftool and mount tracefs/bpffs (idempotent)
	@scripts/setup.sh

.PHONY: build
build: ## Build bin/ig
	@# Static (no cgo): no libc or dynamic loader to map at each start.
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(IG) ./cmd/ig

.PHONY: gadgets
gadgets: build ## Build every built-in gadget into the local store (offline)
	@set -e; for g in $(GADGETS); do \
		echo "building gadget $$g"; \
		$(IG) image build -t $$g gadgets/$$g; \
	done

.PHONY: run
run: setup gadgets ## Set up, build everything and run trace_open for $(TIMEOUT) s
	@# An idle machine opens few files: open some so the run shows events.
	@(sleep 1; for f in /etc/hostname /etc/os-release /nonexistent; do cat $$f >/dev/null 2>&1; sleep 0.5; done) &
	$(IG) run trace_open --timeout $(TIMEOUT)

.PHONY: test
test: setup ## Set up, then run every test (as root, against the real kernel)
	$(GO) vet ./...
	cd sdk/go && $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) vet ./... && $(GO) test -count=1 ./...
	$(GO) test -count=1 -timeout 20m ./...
	@# The readers' Flush/Close ordering only fails under the race detector.
	$(GO) test -race -count=1 -run 'FlushCloseConcurrent|FlushDuringEmptyPass|PerfRecords|WrapAround' ./internal/loader

BENCHTIME ?= 1s
BENCHPKGS = $(shell $(GO) list ./... | grep -v /internal/e2ebench)

.PHONY: bench
bench: setup ## Run the micro benchmarks of every hot stage, then the end-to-end harness (see BENCHMARKS.md)
	$(GO) test -run '^$$' -bench . -benchmem -count 1 -benchtime $(BENCHTIME) $(BENCHPKGS)
	@# Each end-to-end benchmark runs one fixed-duration scenario (-benchtime 1x)
	@# with the real ig binary and prints its figures against the targets.
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 -timeout 30m ./internal/e2ebench

.PHONY: clean
clean: ## Remove build output
	rm -rf $(BIN)
