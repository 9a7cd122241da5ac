#!/usr/bin/env bash
# Makes the runtime base image offline, once, and prints its name: Debian 12 (bookworm) minbase from
# Debian's archive with mmdebstrap, slimmed the way debian:bookworm-slim is (no manuals, no
# translations, no docs but the copyrights), plus the runtime packages the Dockerfile's runtime
# stage wants, imported into the container tool as localhost/fleet-base:bookworm-<key>.
#   scripts/container-base.sh        (as root: mmdebstrap needs it)
# The tarball is cached in FLEET_IMAGE_CACHE (default /var/cache/fleet-images, outside any clone, so
# fresh clones on one machine share it), keyed by what goes into it: the package list, the suites
# and the slimming options. It is made again when older than FLEET_BASE_MAX_AGE_DAYS (default 30;
# security updates) or with FLEET_BASE_REBUILD=1. Progress goes to stderr, the image name to stdout.
#   FLEET_DEBIAN_MIRROR   default http://deb.debian.org/debian (and -security beside it)
set -euo pipefail
source "$(dirname "$0")/container-env.sh"

# Everything the runtime stage of the Dockerfile checks for: with all of it here, that stage runs
# no apt-get, and scripts/images.sh builds with --network none to prove it.
packages=(libcurl4 ca-certificates)
mirror=${FLEET_DEBIAN_MIRROR:-http://deb.debian.org/debian}
sources=(
  "deb $mirror bookworm main"
  "deb $mirror bookworm-updates main"
  "deb ${mirror%/debian}/debian-security bookworm-security main"
)
slim=(
  # merged /usr from symlinks and usr-is-merged, as debian:bookworm-slim has it, instead of the
  # usrmerge package (and the perl it pulls in: 50 MB).
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-include=/usr/share/locale/locale.alias'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/lintian/*'
  --dpkgopt='path-exclude=/usr/share/linda/*'
  --dpkgopt='path-exclude=/usr/share/groff/*'
)
cache=${FLEET_IMAGE_CACHE:-/var/cache/fleet-images}
key=$(printf '%s\n' minbase "${packages[@]}" "${sources[@]}" "${slim[@]}" | sha256sum | cut -c1-12)
image="localhost/fleet-base:bookworm-$key"
tarball="$cache/fleet-base-bookworm-$key.tar"
tool=$CONTAINER_TOOL

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

if [ -f "$tarball" ] && { [ "${FLEET_BASE_REBUILD:-0}" = 1 ] ||
  [ -n "$(find "$tarball" -mtime +"${FLEET_BASE_MAX_AGE_DAYS:-30}" 2>/dev/null)" ]; }; then
  echo "fleet: base image $key: remaking it" >&2
  rm -f "$tarball"
  "$tool" rmi -f "$image" >/dev/null 2>&1 || true
fi

if [ ! -f "$tarball" ]; then
  command -v mmdebstrap >/dev/null || { echo "fleet: mmdebstrap is missing (apt-get install mmdebstrap)" >&2; exit 1; }
  started=$(date +%s)
  echo "fleet: making the base image $key (mmdebstrap minbase bookworm + ${packages[*]})" >&2
  partial="$tarball.$$.partial"
  trap 'rm -f "$partial" "$partial.log"' EXIT
  if ! mmdebstrap --variant=minbase --format=tar --include="$(IFS=,; echo "${packages[*]}")" \
    "${slim[@]}" bookworm "$partial" "${sources[@]}" >"$partial.log" 2>&1; then
    tail -n 40 "$partial.log" >&2
    echo "fleet: mmdebstrap failed (the log's end is above)" >&2
    exit 1
  fi
  mv -f "$partial" "$tarball"
  rm -f "$partial.log"
  trap - EXIT
  echo "fleet: base tarball made in $(($(date +%s) - started)) s: $tarball ($(du -m "$tarball" | cut -f1) MB)" >&2
  "$tool" rmi -f "$image" >/dev/null 2>&1 || true
fi

if ! "$tool" image inspect "$image" >/dev/null 2>&1; then
  echo "fleet: importing $tarball as $image" >&2
  # An imported tarball has no configuration: give it the one debian:bookworm-slim has.
  "$tool" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --change "LABEL org.opencontainers.image.description=\"Debian 12 minbase (mmdebstrap) with ${packages[*]}\"" \
    "$tarball" "$image" >/dev/null
fi
echo "$image"
