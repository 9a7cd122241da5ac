# Fleet: `make run` starts the fleet locally, `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help
SWIFT ?= swift

.PHONY: help deps test-deps build run test bench clean FORCE

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

deps: ## Install the Debian packages a build needs (as root; else print the command)
	@scripts/deps.sh build

test-deps: ## Install what the tests need too (PostgreSQL, promtool)
	@scripts/deps.sh test

build: deps ## Build every service (debug)
	$(SWIFT) build

# The fleet runs as the recipe of a file, not of the phony `run`: on SIGHUP, SIGINT or SIGQUIT,
# GNU make forwards nothing to a running recipe and waits for it, but deletes the file the recipe
# was making. run-fleet.sh writes its pid there and stops every service when the file goes away.
# SIGTERM make forwards to its child, the script itself (`exec`: no shell in between), and when
# make dies without cleaning up (SIGKILL) the script sees its parent go. NO_BUILD=1 skips the build.
RUN_PID_FILE := .data/run-fleet$(if $(FLEET_PORT_OFFSET),-$(FLEET_PORT_OFFSET)).pid

run: $(RUN_PID_FILE) ## Run the fleet locally on SQLite; Ctrl-C stops it (NO_BUILD=1: as built)

$(RUN_PID_FILE): $(if $(NO_BUILD),,build) FORCE
	@exec scripts/run-fleet.sh --no-build --pid-file $@

FORCE:

test: test-deps ## Build once and run the whole suite, system tests included
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --skip ClientLoadTests
	@# Load tests measure the process (RSS, sockets, threads): alone, after the rest.
	$(SWIFT) test --skip-build --filter ClientLoadTests

bench: ## Side-by-side benchmark (release; QUICK=1 for a short run) into Benchmarks/RESULTS.md
	QUICK=$(QUICK) Benchmarks/bench.sh

clean: ## Remove build products and local data
	rm -rf .build .data
