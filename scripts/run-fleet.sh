#!/usr/bin/env bash
# Runs the fleet locally: every service with its local ports and SQLite file, waits for each
# /readyz, prints the URLs, and stops them all on Ctrl-C or SIGTERM, leaving no process behind.
#   scripts/run-fleet.sh [--no-build]
# FLEET_PORT_OFFSET shifts every port (tests use it to run beside a running fleet).
# Service logs (JSON lines) go to stdout; this script's own messages go to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

# name:api-port:admin-port — add a service here when you add one to Package.swift.
SERVICES=(catalog:8082:9082)

offset=${FLEET_PORT_OFFSET:-0}
bin_dir=${FLEET_BIN_DIR:-.build/debug}
if [ "${1:-}" != "--no-build" ]; then
  swift build --product catalog >&2
fi

pids=()
sleeper=""
stop_all() {
  trap - INT TERM EXIT
  [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null || true
  if [ ${#pids[@]} -gt 0 ]; then
    echo "fleet: stopping ${#pids[@]} service(s)" >&2
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  fi
  echo "fleet: stopped" >&2
}
trap 'stop_all; exit 0' INT TERM
trap 'stop_all' EXIT

mkdir -p .data
for entry in "${SERVICES[@]}"; do
  IFS=: read -r name port admin <<<"$entry"
  port=$((port + offset)); admin=$((admin + offset))
  for p in "$port" "$admin"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "fleet: port $p is already in use; stop what holds it or set FLEET_PORT_OFFSET" >&2
      exit 1
    fi
  done
  PORT=$port ADMIN_PORT=$admin DATABASE_URL=${DATABASE_URL:-sqlite:///.data/$name.db} \
    "$bin_dir/$name" &
  pids+=($!)
done

for entry in "${SERVICES[@]}"; do
  IFS=: read -r name port admin <<<"$entry"
  port=$((port + offset)); admin=$((admin + offset))
  for _ in $(seq 1 300); do
    if curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$admin/readyz" 2>/dev/null; then break; fi
    sleep 0.2
  done
  if ! curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$admin/readyz" 2>/dev/null; then
    echo "fleet: $name did not become ready" >&2
    exit 1
  fi
  echo "fleet: $name ready  api http://127.0.0.1:$port  admin http://127.0.0.1:$admin" >&2
done
echo "fleet: all services ready; Ctrl-C stops them" >&2

# Wake every second so a service that dies ends the fleet, and signals are handled promptly.
while true; do
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "fleet: a service exited; stopping the rest" >&2
      exit 1
    fi
  done
  sleep 1 &
  sleeper=$!
  wait "$sleeper" || true
  sleeper=""
done
