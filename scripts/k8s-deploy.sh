#!/usr/bin/env bash
# Applies one environment to the cluster kubectl points at, or deletes it again.
#   scripts/k8s-deploy.sh apply ENV     render (scripts/k8s-render.sh), check the Secrets, apply,
#                                       wait for every rollout (`make deploy ENV=...`)
#   scripts/k8s-deploy.sh delete ENV    delete every object of the fleet but the namespace and its
#                                       Secrets (`make undeploy ENV=...`)
# The Secrets are never in git. overlays/local: users-jwt (the token signing key) is made here with
# openssl when it is missing. overlays/production: users-jwt and <service>-database must exist
# (docs/deployment.md has the commands); nothing is applied while one is missing.
# KUBECTL_ARGS (e.g. "--context kind-fleet") goes to every kubectl call.
set -euo pipefail
source "$(dirname "$0")/container-env.sh"

command=${1:-}
env_name=${2:-}
if [ -z "$command" ] || [ -z "$env_name" ]; then
  echo "usage: scripts/k8s-deploy.sh apply|delete ENV" >&2
  exit 2
fi
kubectl_bin=$(fleet_kubectl)
# shellcheck disable=SC2086 # KUBECTL_ARGS is a list of arguments
kubectl() { "$kubectl_bin" ${KUBECTL_ARGS:-} "$@"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rendered="$work/$env_name.yaml"
"$FLEET_ROOT/scripts/k8s-render.sh" "$env_name" "$rendered"
namespace=$(awk '/^kind: Namespace/ { ns = 1 } ns && /^  name:/ { print $2; exit }' "$rendered")
namespace=${namespace:-fleet}

case $command in
  apply)
    if [ "$env_name" != local ] && [ "$REGISTRY" = localhost ]; then
      echo "fleet: set REGISTRY to the registry the images were pushed to (make deploy ENV=$env_name REGISTRY=ghcr.io/acme)" >&2
      exit 2
    fi
    # The Secrets the manifests name (secret volumes, secretKeyRef), which are not among the objects.
    mapfile -t secrets < <(awk '/secretName:/ { print $2 } /secretKeyRef:/ { ref = 1; next }
      ref && / name:/ { print $2; ref = 0 }' "$rendered" | sort -u)
    kubectl create namespace "$namespace" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
    missing=()
    for secret in "${secrets[@]}"; do
      if kubectl -n "$namespace" get secret "$secret" >/dev/null 2>&1; then continue; fi
      if [ "$env_name" = local ] && [ "$secret" = users-jwt ]; then
        echo "fleet: creating the Secret users-jwt (a new EC P-256 signing key) in $namespace" >&2
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/private-key.pem" 2>/dev/null
        kubectl -n "$namespace" create secret generic users-jwt --from-file=private-key.pem="$work/private-key.pem" >/dev/null
        continue
      fi
      missing+=("$secret")
    done
    if [ ${#missing[@]} -gt 0 ]; then
      echo "fleet: missing Secrets in namespace $namespace: ${missing[*]} (docs/deployment.md says how to make them)" >&2
      exit 1
    fi
    kubectl apply -f "$rendered"
    for deployment in $(awk '/^kind: Deployment/ { d = 1 } d && /^  name:/ { print $2; d = 0 }' "$rendered"); do
      kubectl -n "$namespace" rollout status "deployment/$deployment" --timeout=300s
    done
    ;;
  delete)
    kubectl -n "$namespace" delete --ignore-not-found \
      deployment,service,serviceaccount,configmap,networkpolicy,poddisruptionbudget,horizontalpodautoscaler \
      -l app.kubernetes.io/part-of=fleet
    ;;
  *) echo "usage: scripts/k8s-deploy.sh apply|delete ENV" >&2; exit 2 ;;
esac
