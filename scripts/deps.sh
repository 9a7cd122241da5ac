#!/usr/bin/env bash
# Installs the Debian packages Fleet needs, when missing.
#   scripts/deps.sh build   what `make run` needs (libcurl, zlib, SQLite headers, curl)
#   scripts/deps.sh test    that plus PostgreSQL, Prometheus's promtool and nghttpd (HTTP/2), and podman
#                           with runc and mmdebstrap (ContainerTests: images and pods), for `make test`
#   scripts/deps.sh bench   that plus wrk and Python's venv, for `make bench`
# As root it runs apt-get; otherwise it prints the one command to run and fails.
set -euo pipefail

packages=(libcurl4-openssl-dev zlib1g-dev libsqlite3-dev curl)
case "${1:-build}" in
  test)
    packages+=(postgresql prometheus nghttp2-server openssl python3-venv)
    # Rootful podman with runc (scripts/containers.conf says why not crun), its network stack with
    # DNS (netavark, aardvark-dns, iptables), the pause process of kube play pods (catatonit), and
    # mmdebstrap for the offline base image (scripts/container-base.sh).
    packages+=(podman runc conmon netavark aardvark-dns iptables catatonit uidmap slirp4netns fuse-overlayfs mmdebstrap)
    ;;
  bench) packages+=(wrk python3-venv) ;;
esac

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "fleet: missing system packages: ${missing[*]}" >&2
  echo "fleet: install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "fleet: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
