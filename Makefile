# Fleet: `make run` starts the fleet locally, `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help
SWIFT ?= swift

.PHONY: help deps test-deps build run test bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

deps: ## Install the Debian packages a build needs (as root; else print the command)
	@scripts/deps.sh build

test-deps: ## Install what the tests need too (PostgreSQL, promtool)
	@scripts/deps.sh test

build: deps ## Build every service (debug)
	$(SWIFT) build

run: $(if $(NO_BUILD),,build) ## Run the fleet locally on SQLite; Ctrl-C stops it
	@scripts/run-fleet.sh --no-build

test: test-deps ## Build once and run the whole suite, system tests included
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --skip ClientLoadTests
	@# Load tests measure the process (RSS, sockets, threads): alone, after the rest.
	$(SWIFT) test --skip-build --filter ClientLoadTests

bench: ## Side-by-side benchmark (release; QUICK=1 for a short run) into Benchmarks/RESULTS.md
	QUICK=$(QUICK) Benchmarks/bench.sh

clean: ## Remove build products and local data
	rm -rf .build .data
