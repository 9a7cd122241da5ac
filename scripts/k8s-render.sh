#!/usr/bin/env bash
# Renders one environment's manifests as they are deployed: k8s/overlays/ENV through kustomize, every
# image pinned to $REGISTRY/fleet-<service>:$VERSION and every object labelled
# app.kubernetes.io/version=$VERSION (VERSION defaults to `git describe --always --dirty`).
#   scripts/k8s-render.sh ENV [OUTPUT_FILE]     ENV: a folder of k8s/overlays (local, production)
# Writes the YAML to OUTPUT_FILE, else to stdout. `make k8s-render`, `make deploy` and `make lint`
# all render through here, so what is checked is what is applied.
set -euo pipefail
source "$(dirname "$0")/container-env.sh"

env_name=${1:-}
output=${2:-}
overlay="$FLEET_ROOT/k8s/overlays/$env_name"
if [ -z "$env_name" ] || [ ! -f "$overlay/kustomization.yaml" ]; then
  echo "usage: scripts/k8s-render.sh ENV [OUTPUT_FILE]; ENV is one of: $(ls "$FLEET_ROOT/k8s/overlays" | tr '\n' ' ')" >&2
  exit 2
fi
# A label value and an image tag: letters, digits, '.', '_' and '-', at most 63 characters.
version=$(printf '%s' "$VERSION" | tr -c 'A-Za-z0-9._-' '-' | cut -c1-63)
kubectl=$(fleet_kubectl)

# A kustomization of our own on top of the overlay, in a temporary folder: nothing in git changes.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
  echo "apiVersion: kustomize.config.k8s.io/v1beta1"
  echo "kind: Kustomization"
  echo "resources:"
  echo "  - $(realpath --relative-to="$work" "$overlay")"
  echo "labels:"
  echo "  - pairs:"
  echo "      app.kubernetes.io/version: \"$version\""
  echo "    includeSelectors: false"
  echo "    includeTemplates: true"
  echo "images:"
  # Every service with manifests, built or not yet.
  for deployment in "$FLEET_ROOT"/k8s/base/*/deployment.yaml; do
    service=$(basename "$(dirname "$deployment")")
    echo "  - name: fleet-$service"
    echo "    newName: $REGISTRY/fleet-$service"
    echo "    newTag: \"$version\""
  done
} >"$work/kustomization.yaml"
if [ -n "$output" ]; then
  "$kubectl" kustomize "$work" >"$output"
else
  "$kubectl" kustomize "$work"
fi
