#!/usr/bin/env bash
# Installs the Debian packages Fleet needs, when missing.
#   scripts/deps.sh build   what `make run` needs (libcurl, zlib, SQLite headers, curl)
#   scripts/deps.sh test    that plus PostgreSQL, Prometheus's promtool and nghttpd (HTTP/2), for `make test`
#   scripts/deps.sh bench   that plus wrk and Python's venv, for `make bench`
# As root it runs apt-get; otherwise it prints the one command to run and fails.
set -euo pipefail

packages=(libcurl4-openssl-dev zlib1g-dev libsqlite3-dev curl)
case "${1:-build}" in
  test) packages+=(postgresql prometheus nghttp2-server openssl python3-venv) ;;
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
