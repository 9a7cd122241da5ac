#!/usr/bin/env bash
# Builds and pushes the fleet's images: one per service, from the one Dockerfile, each tagged
# $REGISTRY/fleet-<service>:$VERSION.
#   scripts/images.sh build [SERVICE...]      every service when none is named (`make images`)
#   scripts/images.sh push [SERVICE...]       (`make push`; REGISTRY must name a registry)
#   scripts/images.sh names [SERVICE...]      print the image names
#   scripts/images.sh services                print the services (Package.swift's products in Services/)
#   scripts/images.sh binaries [SERVICE...]   only the release binaries, into $FLEET_BINARIES_DIR
# Environment (the Makefile passes its variables of the same names):
#   CONTAINER_TOOL  docker (default) or podman
#   REGISTRY        default localhost;  VERSION  default `git describe --always --dirty`
#   BUILD           image (default): the Dockerfile's build stage compiles in the official Swift
#                   image (SWIFT_IMAGE), on a Debian 12 slim runtime (RUNTIME_IMAGE).
#                   local: this machine's toolchain makes the release binaries
#                   (swift build -c release --static-swift-stdlib, in $FLEET_RELEASE_SCRATCH,
#                   default .build-release), fed to the Dockerfile's `prebuilt` stage; the runtime
#                   base is made offline by scripts/container-base.sh unless RUNTIME_IMAGE is set, and
#                   the image build runs with --network none. Nothing is pulled from a registry.
#   BINARY_BUILD    release (default) or debug: with debug, BUILD=local and `binaries` take a
#                   debug build (swift build --static-swift-stdlib, in $FLEET_DEBUG_SCRATCH, default
#                   .build-static: its objects differ from .build's, which must not get them),
#                   what `make test`'s ContainerTests package, to stay within its time
#   STRIP           all (default), debug or none: what `strip` takes out of the binaries
#   FLEET_BINARIES_DIR  where `binaries` (and BUILD=local) put the stripped binaries
#                   (default $FLEET_RELEASE_SCRATCH/images)
set -euo pipefail
source "$(dirname "$0")/container-env.sh"
cd "$FLEET_ROOT"

command=${1:-}
[ $# -gt 0 ] && shift
if [ $# -gt 0 ]; then services=("$@"); else mapfile -t services < <(fleet_services); fi
build_mode=${BUILD:-image}
binary_build=${BINARY_BUILD:-release}
case $binary_build in
  release) build_flags=(-c release --static-swift-stdlib); scratch=${FLEET_RELEASE_SCRATCH:-.build-release} ;;
  debug) build_flags=(--static-swift-stdlib); scratch=${FLEET_DEBUG_SCRATCH:-.build-static} ;;
  *) echo "fleet: BINARY_BUILD must be release or debug" >&2; exit 2 ;;
esac
binaries=${FLEET_BINARIES_DIR:-$scratch/images}
strip_mode=${STRIP:-all}
case $strip_mode in all | debug | none) ;; *) echo "fleet: STRIP must be all, debug or none" >&2; exit 2 ;; esac
tool=$CONTAINER_TOOL
version=$(printf '%s' "$VERSION" | tr -c 'A-Za-z0-9._-' '-' | cut -c1-63)

image_name() { echo "$REGISTRY/fleet-$1:$version"; }

# Release binaries with the static Swift standard library (and Foundation: -static-stdlib comes
# with the flag), stripped as STRIP says (all by default: only exported symbols stay; debug keeps
# the symbol table, 31 MB more, for backtraces and profiles that name internal functions; none).
# One product at a time; modules are shared between them.
build_binaries() {
  mkdir -p "$binaries"
  local service bin_path started
  for service in "${services[@]}"; do
    started=$(date +%s)
    swift build "${build_flags[@]}" --scratch-path "$scratch" --product "$service" >&2
    bin_path=$(swift build "${build_flags[@]}" --scratch-path "$scratch" --show-bin-path)
    cp -f "$bin_path/$service" "$binaries/$service.tmp"
    case $strip_mode in
      all) strip "$binaries/$service.tmp" ;;
      debug) strip --strip-debug "$binaries/$service.tmp" ;;
    esac
    mv -f "$binaries/$service.tmp" "$binaries/$service"
    echo "fleet: $service built in $(($(date +%s) - started)) s ($(du -m "$binaries/$service" | cut -f1) MB): $binaries/$service" >&2
  done
}

build_images() {
  local revision dirty created source runtime args=() service started
  revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
  dirty=false
  if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then dirty=true; fi
  created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  source=$(git remote get-url origin 2>/dev/null || true)
  args=(--build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "DIRTY=$dirty"
    --build-arg "CREATED=$created" --build-arg "SOURCE=$source" --build-arg "STRIP=$strip_mode")
  [ -n "${SWIFT_IMAGE:-}" ] && args+=(--build-arg "SWIFT_IMAGE=$SWIFT_IMAGE")
  runtime=${RUNTIME_IMAGE:-}
  case $build_mode in
    image) ;;
    local)
      build_binaries
      [ -n "$runtime" ] || runtime=$(scripts/container-base.sh)
      args+=(--build-arg BINARY_SOURCE=prebuilt --build-context "binaries=$binaries" --network none)
      ;;
    *) echo "fleet: BUILD must be image or local, not $build_mode" >&2; exit 2 ;;
  esac
  [ -n "$runtime" ] && args+=(--build-arg "RUNTIME_IMAGE=$runtime")
  # Podman writes OCI images by default, where SHELL (bash with pipefail) would be ignored.
  if [ "$(basename "$tool")" = podman ]; then args+=(--format docker); fi
  # The untagged images a build leaves (its stages; podman 4.3 fails with --layers=false on the
  # `binary` stage alias): those that were not there before are removed afterwards.
  local dangling_before
  dangling_before=$("$tool" images --quiet --no-trunc --filter dangling=true | sort -u)
  for service in "${services[@]}"; do
    started=$(date +%s)
    echo "fleet: building $(image_name "$service")" >&2
    "$tool" build --file Dockerfile --build-arg "SERVICE=$service" "${args[@]}" \
      --tag "$(image_name "$service")" . >&2
    echo "fleet: $(image_name "$service") built in $(($(date +%s) - started)) s" \
      "($(image_size "$(image_name "$service")"))" >&2
  done
  local leftover
  leftover=$(comm -13 <(echo "$dangling_before") <("$tool" images --quiet --no-trunc --filter dangling=true | sort -u))
  if [ -n "$leftover" ]; then
    # shellcheck disable=SC2086 # one id per word
    "$tool" rmi $leftover >/dev/null 2>&1 || true
  fi
}

# The image's size and, when RUNTIME_IMAGE or the offline base is known, what it adds to its base.
image_size() {
  local size base_size
  size=$("$tool" image inspect --format '{{.Size}}' "$1")
  if [ -n "${runtime:-}" ] && base_size=$("$tool" image inspect --format '{{.Size}}' "$runtime" 2>/dev/null); then
    echo "$((size / 1000000)) MB, $(((size - base_size) / 1000000)) MB above the base"
  else
    echo "$((size / 1000000)) MB"
  fi
}

push_images() {
  if [ "$REGISTRY" = localhost ]; then
    echo "fleet: set REGISTRY to the registry to push to (make push REGISTRY=ghcr.io/acme)" >&2
    exit 2
  fi
  local service
  for service in "${services[@]}"; do
    "$tool" push "$(image_name "$service")"
  done
}

case $command in
  build) build_images ;;
  push) push_images ;;
  names) for service in "${services[@]}"; do image_name "$service"; done ;;
  services) printf '%s\n' "${services[@]}" ;;
  binaries) build_binaries ;;
  *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
