# vipd — make targets. `make test` and `make demo`, run as root, work on a fresh
# Debian 12 machine: they install what they need themselves.

SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go

VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
TOOLS   := $(CURDIR)/.tools/bin

# Pinned tool versions; bump them here and nowhere else.
STATICCHECK_VERSION := v0.7.0

# Debian packages the lab, the demo and the benchmarks use; prometheus is
# there for promtool, which tests examples/prometheus.
APT_PACKAGES := iproute2 nginx haproxy keepalived arping ndisc6 tcpdump curl nftables \
	systemd-container debootstrap rpm prometheus frr

.PHONY: all build test test-unit lint deps tools demo bench packages fuzz clean help

all: build

help:
	@echo "make build     build bin/vipd"
	@echo "make test      install what is missing, then lint, unit tests and (as root) lab tests"
	@echo "make lint      gofmt, go vet and staticcheck $(STATICCHECK_VERSION)"
	@echo "make fuzz      run every fuzz target for FUZZTIME (default 60s) each"
	@echo "make demo      a lab of hosts with the VIP moving between them (root)"
	@echo "make bench     failover, scale and idle cost side by side with keepalived (root)"
	@echo "make packages  .deb and .rpm under dist/"

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ ./cmd/...

test: deps lint
	$(GO) test -count=1 -timeout 30m ./...

# Unit tests only: no root, no packages.
test-unit:
	$(GO) test -count=1 ./...

lint: tools
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt: not formatted (run gofmt -w):"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS)/staticcheck ./...

tools: $(TOOLS)/staticcheck

$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# Installs the Debian packages that are missing; needs root only when one is.
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages:" $$missing "- run 'make test' as root to install them"; exit 1; fi; \
		echo "installing" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# Every parser of outside input has a fuzz target; each runs for FUZZTIME.
FUZZTIME ?= 60s
FUZZ_TARGETS := ./config:FuzzParse ./membership:FuzzMeta ./membership:FuzzState ./health:FuzzJudgeBackend \
	./announcer:FuzzParseARPFrame ./announcer:FuzzHandleARP ./announcer:FuzzHandleNDP
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; echo "== $$fn ($$pkg) for $(FUZZTIME)"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME); \
	done

# The demo is a Go test so that it shares the lab code and always tears the
# lab down, also on Ctrl-C.
demo: deps
	@[ "$$(id -u)" = 0 ] || { echo "make demo needs root for network namespaces: run 'make demo' as root (su -, or sudo make demo)"; exit 1; }
	set -o pipefail; VIPD_DEMO=1 $(GO) test -count=1 -run '^TestDemo$$' -v ./cmd/vipd/ | grep -v -e '^=== RUN' -e '^--- PASS' -e '^PASS' -e '^ok '

# Benchmarks print figures; they assert nothing. The lab run writes
# docs/benchmarks.md, docs/benchmarks.json and docs/failover.png; the BGP
# and fleet runs write docs/benchmarks-bgp.md and docs/benchmarks-fleet.md.
bench: deps
	@[ "$$(id -u)" = 0 ] || { echo "make bench needs root for network namespaces: run 'make bench' as root (su -, or sudo make bench)"; exit 1; }
	$(GO) test ./election/ -run '^$$' -bench . -benchmem
	$(GO) test ./membership/ -run '^$$' -bench DeadDetection -benchtime 1x
	VIPD_BENCH=1 $(GO) test -count=1 -timeout 40m -run '^TestBenchmarkVsKeepalived$$' -v ./cmd/vipd/
	VIPD_BENCH=1 $(GO) test -count=1 -timeout 30m -run '^TestBenchmarkBGP$$' -v ./cmd/vipd/
	VIPD_BENCH=1 $(GO) test -count=1 -timeout 40m -run '^TestBenchmarkFleet$$' -v ./cmd/vipd/

packages:
	bash packaging/build.sh $(VERSION) dist

clean:
	rm -rf bin dist
