# Fleet: `make run` starts the fleet locally, `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help
SWIFT ?= swift

.PHONY: help deps test-deps build run test bench clean FORCE

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

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
	$(SWIFT) test --skip-build --skip ClientLoadTests --skip ContainerTests
	@# Load tests measure the process (RSS, sockets, threads): alone, after the rest.
	$(SWIFT) test --skip-build --filter ClientLoadTests
	@# Images and pods (podman): alone, last; their debug build (.build-static) takes both cores for minutes.
	$(SWIFT) test --skip-build --filter ContainerTests

bench: ## Side-by-side benchmark (release; QUICK=1 for a short run) into Benchmarks/RESULTS.md
	QUICK=$(QUICK) Benchmarks/bench.sh

clean: ## Remove build products and local data
	rm -rf .build .build-static .build-release .data

# Containers and Kubernetes (docs/deployment.md): one image per service from the one Dockerfile,
# kustomize overlays in k8s/overlays (local, production). REGISTRY and VERSION name the images
# ($(REGISTRY)/fleet-<service>:$(VERSION)); BUILD=local builds the binaries with this machine's
# toolchain and the base image offline instead of in the official Swift image.
CONTAINER_TOOL ?= docker
REGISTRY ?= localhost
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
BUILD ?= image
ENV ?= local
CONTAINER_VARS = CONTAINER_TOOL=$(CONTAINER_TOOL) REGISTRY=$(REGISTRY) VERSION=$(VERSION) BUILD=$(BUILD)

.PHONY: images push deploy undeploy k8s-render lint

images: ## One image per service, $(REGISTRY)/fleet-<service>:$(VERSION) (CONTAINER_TOOL=podman, BUILD=local)
	$(CONTAINER_VARS) scripts/images.sh build

push: ## Push the images to $(REGISTRY) (make push REGISTRY=ghcr.io/acme)
	$(CONTAINER_VARS) scripts/images.sh push

deploy: ## kubectl apply the overlay k8s/overlays/$(ENV) with the images of $(VERSION) (ENV=local|production)
	$(CONTAINER_VARS) scripts/k8s-deploy.sh apply $(ENV)

undeploy: ## Delete what deploy applied for $(ENV) (the namespace, its Secrets included, stays)
	$(CONTAINER_VARS) scripts/k8s-deploy.sh delete $(ENV)

k8s-render: ## Print the manifests of k8s/overlays/$(ENV) as deploy applies them
	@$(CONTAINER_VARS) scripts/k8s-render.sh $(ENV)

lint: ## hadolint the Dockerfile, render every overlay, kubernetes-validate and checkov the objects
	python3 Tests/Tools/container_lint.py
