# p4evpn developer targets. `make test` is what CI runs (see .ci/run).
GO        ?= go
STATICCHECK_VERSION ?= v0.8.2
P4C       ?= p4c-bm2-ss

.PHONY: all build test test-short lint bench p4

all: build

build:
	$(GO) build ./...

# The whole suite, with the race detector (needs cgo and a C compiler).
# Tests that need root, FRR or BMv2 skip themselves with a message when absent.
test:
	$(GO) test -race -count=1 -timeout 30m ./...

# The suite without -race, for machines with Go alone.
test-short:
	$(GO) test ./...

# third_party/ holds upstream code (changes listed in its PATCHES.md); it is
# a module of its own, so ./... already leaves it to its authors' lint.
lint:
	@bad=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go' ':(exclude)third_party')); \
	  if [ -n "$$bad" ]; then echo "gofmt would change:"; echo "$$bad"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...

# Recompile the P4 program; commit p4/build/ with the source change.
# SOURCE_SHA256 records what was compiled: p4's tests fail when a source
# changes without a recompile.
P4_SOURCES = p4/evpn.p4 $(sort $(wildcard p4/include/*.p4))

p4:
	@command -v $(P4C) >/dev/null 2>&1 || { \
	  echo "$(P4C) not found on PATH: build p4c from its public source outside this repository (see p4/README.md)"; exit 1; }
	$(P4C) --arch v1model --std p4-16 -o p4/build/evpn.json \
	  --p4runtime-files p4/build/evpn.p4info.txtpb p4/evpn.p4
	$(P4C) --version > p4/build/P4C_VERSION 2>&1
	sha256sum $(P4_SOURCES) > p4/build/SOURCE_SHA256
