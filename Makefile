# Conversa. "make" alone lists the targets.

GO       ?= go
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
FUZZTIME ?= 30s
ENVFILE  := .test/env

.DEFAULT_GOAL := help
.PHONY: help build run test bench lint fmt fuzz services services-stop clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/conversa (pure Go, no cgo)
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o bin/conversa ./cmd/conversa

run: build ## run a node on the embedded store with the demo tenant
	./bin/conversa serve --demo

test: services lint ## run every test against real PostgreSQL, Valkey, Chromium and Firefox
	. ./$(ENVFILE) && $(GO) test -race -count=1 -timeout 12m ./...

bench: services build ## run the benchmarks in bench/ (results go in bench/README.md)
	. ./$(ENVFILE) && $(GO) run ./bench/ingest
	. ./$(ENVFILE) && $(GO) run ./bench/webchat
	$(GO) run ./bench/idle
	$(GO) run ./bench/engine
	$(GO) run ./bench/nlu
	. ./$(ENVFILE) && $(GO) run ./bench/cases
	. ./$(ENVFILE) && $(GO) run ./bench/routing
	. ./$(ENVFILE) && $(GO) run ./bench/email
	. ./$(ENVFILE) && $(GO) run ./bench/contact360
	. ./$(ENVFILE) && $(GO) run ./bench/fanout
	. ./$(ENVFILE) && $(GO) run ./bench/campaign
	. ./$(ENVFILE) && $(GO) run ./bench/reports

lint: ## gofmt, go vet and the import-direction check
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -count=1 -run 'TestImportDirection|TestLayers' .

fmt: ## format the code
	gofmt -w .

fuzz: ## run every fuzz target for FUZZTIME (default 30s)
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

services: ## start the test services that are missing (PostgreSQL, Valkey, Chromium, Firefox)
	scripts/services $(ENVFILE)

services-stop: ## stop the test services that make test started
	scripts/services-stop

clean: ## remove build output and the demo data
	rm -rf bin .test data
