# bmc-agent: the two commands a newcomer needs are `make run` and `make test`.

SHELL   := /bin/bash
GO      ?= go
BIN     ?= bin/bmc-agent
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build run test acceptance lint bench clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/bmc-agent

## run: start the agent on the embedded database (./bmc-agent.db) with a
## Redfish simulator whose systems it enrolls as nodes (serve --demo).
run: build
	./$(BIN) serve --demo

## test: every test, with the race detector, against real PostgreSQL,
## the Redfish simulator and ipmi_sim (started by the tests themselves).
test: lint
	$(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -run '^$$' -fuzz FuzzDecodeNode -fuzztime 10s ./api/
	$(GO) test -run '^$$' -fuzz FuzzPatchNode -fuzztime 10s ./api/

## acceptance: gophercloud's own baremetal acceptance tests (noauth and
## httpbasic, unchanged) against serve --demo; also part of make test.
acceptance:
	$(GO) test -count=1 -v -run TestGophercloudAcceptance ./cmd/bmc-agent

## lint: formatting and vet.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## bench: every benchmark in one run, then one table of figures and ratios
## (raw output on stderr, the table on stdout and in bench-report.md).
bench:
	set -o pipefail; $(GO) test -run '^$$' -bench . -timeout 60m ./... 2>&1 \
		| $(GO) run ./internal/tools/benchreport | tee bench-report.md

clean:
	rm -rf bin
