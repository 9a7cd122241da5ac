#!/usr/bin/env bash
# Runs the fleet locally: every service with its local ports and SQLite file, waits for each
# /readyz, prints the URLs, and stops them all, leaving no process behind, on Ctrl-C, SIGTERM,
# SIGHUP or SIGQUIT, when the process that started it exits, or when its pid file is removed.
#   scripts/run-fleet.sh [--no-build] [--pid-file FILE]
# --pid-file FILE: the script writes its pid into FILE, stops the fleet when FILE disappears and
# removes it when it exits. `make run` passes one: on SIGHUP, SIGINT or SIGQUIT GNU make forwards
# nothing to a running recipe and waits for it, but deletes the file the recipe was making.
# FLEET_PORT_OFFSET shifts every port (tests use it to run beside a running fleet).
# FLEET_DATA_DIR (default .data) holds every service's SQLite file (<name>.db) and data.
# Service logs (JSON lines) go to stdout; this script's own messages go to stderr.
set -euo pipefail

build=1
pid_file=""
while [ $# -gt 0 ]; do
  case $1 in
    --no-build) build=0 ;;
    --pid-file)
      [ $# -ge 2 ] || { echo "fleet: --pid-file needs a file" >&2; exit 2; }
      pid_file=$2
      shift
      ;;
    *) echo "usage: scripts/run-fleet.sh [--no-build] [--pid-file FILE]" >&2; exit 2 ;;
  esac
  shift
done
# Relative to where the script was called from, not to the repository root it moves to.
case $pid_file in "" | /*) ;; *) pid_file=$PWD/$pid_file ;; esac
cd "$(dirname "$0")/.."

# name:api-port:admin-port — add a service here when you add one to Package.swift.
# Each service's peers find it at <NAME>_URL, set below for every one of them.
SERVICES=(users:8081:9081 catalog:8082:9082 orders:8083:9083 gateway:8080:9080)

offset=${FLEET_PORT_OFFSET:-0}
bin_dir=${FLEET_BIN_DIR:-.build/debug}
# Whoever started the script (make, a shell, a test): the fleet lives no longer than it does.
owner=$PPID

pids=()
sleeper=""
stop_all() {
  trap - INT TERM HUP QUIT EXIT
  [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null || true
  if [ ${#pids[@]} -gt 0 ]; then
    echo "fleet: stopping ${#pids[@]} service(s)" >&2
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  fi
  if [ -n "$pid_file" ] && [ "$(cat "$pid_file" 2>/dev/null)" = "$$" ]; then rm -f "$pid_file"; fi
  echo "fleet: stopped" >&2
}
trap 'stop_all; exit 0' INT TERM HUP QUIT
trap 'stop_all' EXIT

# Sets parent_now to the script's parent pid: from /proc without forking, else from ps.
parent_now=""
read_parent() {
  local stat
  if read -r stat 2>/dev/null </proc/$$/stat; then
    stat=${stat##*) } # after "pid (command name)"; the name may hold spaces
    read -r _ parent_now _ <<<"$stat"
  else
    parent_now=$(ps -o ppid= -p $$ | tr -d ' ')
  fi
}

# Ends the fleet (exit 0) when its pid file was removed or the process that started it is gone
# (the script then has a new parent, even before the old one is reaped).
check_owner() {
  if [ -n "$pid_file" ] && [ ! -e "$pid_file" ]; then
    echo "fleet: $pid_file was removed; stopping" >&2
    exit 0
  fi
  read_parent
  if [ "$parent_now" != "$owner" ]; then
    echo "fleet: the process that started the fleet ($owner) has exited; stopping" >&2
    exit 0
  fi
}

data_dir=${FLEET_DATA_DIR:-.data}
mkdir -p .data "$data_dir"
if [ -n "$pid_file" ]; then
  mkdir -p "$(dirname "$pid_file")"
  echo $$ >"$pid_file"
fi
if [ $build = 1 ]; then
  for entry in "${SERVICES[@]}"; do
    swift build --product "${entry%%:*}" >&2
  done
fi

for entry in "${SERVICES[@]}"; do
  IFS=: read -r name port admin <<<"$entry"
  upper=$(echo "$name" | tr 'a-z-' 'A-Z_')
  export "${upper}_URL=http://127.0.0.1:$((port + offset))"
  export "${upper}_ADMIN_URL=http://127.0.0.1:$((admin + offset))"
done

for entry in "${SERVICES[@]}"; do
  IFS=: read -r name port admin <<<"$entry"
  port=$((port + offset)); admin=$((admin + offset))
  for p in "$port" "$admin"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "fleet: port $p is already in use; stop what holds it or set FLEET_PORT_OFFSET" >&2
      exit 1
    fi
  done
  PORT=$port ADMIN_PORT=$admin DATA_DIR=$data_dir DATABASE_URL=sqlite:///$data_dir/$name.db \
    "$bin_dir/$name" &
  pids+=($!)
done

for entry in "${SERVICES[@]}"; do
  IFS=: read -r name port admin <<<"$entry"
  port=$((port + offset)); admin=$((admin + offset))
  for _ in $(seq 1 300); do
    if curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$admin/readyz" 2>/dev/null; then break; fi
    check_owner
    sleep 0.2
  done
  if ! curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$admin/readyz" 2>/dev/null; then
    echo "fleet: $name did not become ready" >&2
    exit 1
  fi
  echo "fleet: $name ready  api http://127.0.0.1:$port  admin http://127.0.0.1:$admin" >&2
done
echo "fleet: all services ready; Ctrl-C stops them" >&2

# Wake every second so a service that dies ends the fleet, the owner and the pid file are
# checked, and signals are handled promptly.
while true; do
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "fleet: a service exited; stopping the rest" >&2
      exit 1
    fi
  done
  check_owner
  sleep 1 &
  sleeper=$!
  wait "$sleeper" || true
  sleeper=""
done
