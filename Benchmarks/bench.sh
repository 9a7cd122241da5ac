#!/usr/bin/env bash
# make bench: ServiceKit side by side with bare Hummingbird and FastAPI, in one run, on loopback;
# then CurlHTTP against AsyncHTTPClient as clients of one bare Hummingbird (Benchmarks/client).
# QUICK=1 shortens every run. Writes Benchmarks/RESULTS.md and the raw outputs in Benchmarks/raw/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

duration=${BENCH_DURATION:-10}; warmup=3; connections=64; threads=2; rounds=3
if [ -n "${QUICK:-}" ]; then duration=4; warmup=1; fi
raw=$root/Benchmarks/raw

# Refuse before touching anything: a run that cannot start keeps the last run's raw outputs.
ports=(18101 18201 18102 18202 18103 18104 18105 18106 18206 18107 18301)
for p in "${ports[@]}"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "bench: port $p is in use; free it first" >&2; exit 1
  fi
done
work=$(mktemp -d /tmp/fleet-bench-XXXXXX)
rm -rf "$raw"; mkdir -p "$raw"

scripts/deps.sh bench
venv=$root/.venv-bench
if [ ! -x "$venv/bin/uvicorn" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r Benchmarks/peers/fastapi/requirements.txt
fi

echo "bench: building release binaries" >&2
# The services are built as they ship: with the Swift runtime and Foundation linked in
# (`--static-swift-stdlib`). Loading and relocating a dozen shared Swift libraries was a fifth
# of a start-up's CPU and 4 MiB of idle memory. The bare Hummingbird peer is built the
# way its users build it by default, dynamically.
swift build -c release --static-swift-stdlib --product catalog >&2
swift build -c release --static-swift-stdlib --product bench-servicekit >&2
(cd Benchmarks/peers/bare-hummingbird && swift build -c release >&2)
(cd Benchmarks/client && swift build -c release >&2)
bin=$root/.build/release
peer_bin=$root/Benchmarks/peers/bare-hummingbird/.build/release
client_bin=$root/Benchmarks/client/.build/release

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Resident memory of a process and its descendants, in KiB.
rss_tree() {
  local total=0 pid
  for pid in $1 $(pgrep -P "$1" || true); do
    total=$((total + $(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

# answers_200 PORT PATH: one GET over bash's /dev/tcp, true on a 200. The start-up probe forks
# nothing: a curl process and a sleep per attempt cost 10 ms or more each, a resolution that
# would hide most of the start-up difference between systems.
answers_200() {
  local status
  # In braces: `exec` applies its redirections to the shell itself, and this one is temporary.
  { exec 9<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$2" >&9
  read -r -t 2 status <&9 || status=
  exec 9<&-
  [[ $status == "HTTP/1.1 200"* ]]
}
# A pipe nobody writes to: `read -t` on it is a sleep without forking `sleep`.
exec {pause_fd}<> <(:)

# start NAME READY_URL COMMAND...: starts a system, records exec-to-first-200 and idle RSS.
# The start-up time is the median of three launches, each in a new, empty working folder (so a
# service with migrations applies them every time); the third launch is the one kept running.
# Readiness is probed every millisecond.
start() {
  local name=$1 url=$2; shift 2
  local times=() launch pid began ready port path attempt
  [[ $url =~ ^http://127\.0\.0\.1:([0-9]+)(/.*)$ ]] || { echo "bench: bad ready URL $url" >&2; exit 1; }
  port=${BASH_REMATCH[1]} path=${BASH_REMATCH[2]}
  for launch in 1 2 3; do
    rm -rf "${work:?}/$name"; mkdir -p "$work/$name"
    began=${EPOCHREALTIME/./}  # microseconds, without forking `date`
    ( cd "$work/$name" && exec "$@" ) >"$raw/$name.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    ready=
    for ((attempt = 0; attempt < 30000; attempt++)); do
      if answers_200 "$port" "$path"; then ready=${EPOCHREALTIME/./}; break; fi
      read -r -t 0.001 -u "$pause_fd" || true
    done
    [ -n "$ready" ] || { echo "bench: $name did not start" >&2; exit 1; }
    times+=($(( (ready - began) / 1000 )))
    [ "$launch" = 3 ] && break
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  sleep 1
  echo "$name startup_ms $(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)" >>"$raw/summary.txt"
  echo "$name startup_launches $(IFS=,; echo "${times[*]}")" >>"$raw/summary.txt"
  echo "$name rss_idle_kib $(rss_tree "$pid")" >>"$raw/summary.txt"
  current=$pid
  started[$name]=$pid
}

declare -A started

# stop NAME: records the RSS after load, then stops the system.
stop() {
  local name=$1 pid=${started[$1]}
  echo "$name rss_loaded_kib $(rss_tree "$pid")" >>"$raw/summary.txt"
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# load NAME ENDPOINT PORT PATH [LUA]: a warm-up run, then the measured one.
load() {
  local name=$1 endpoint=$2 port=$3 path=$4 lua=${5:-}
  local args=(-t"$threads" -c"$connections" --latency)
  [ -n "$lua" ] && args+=(-s "$root/Benchmarks/lua/$lua")
  wrk "${args[@]}" -d"${warmup}s" "http://127.0.0.1:$port$path" >/dev/null
  wrk "${args[@]}" -d"${duration}s" "http://127.0.0.1:$port$path" >"$raw/$name.$endpoint.txt"
  echo "bench: $name $endpoint $(grep Requests/sec "$raw/$name.$endpoint.txt")" >&2
}

framework() {
  local name=$1 port=$2
  load "$name" hello "$port" /hello
  load "$name" item "$port" /items/1 item.lua
  load "$name" create "$port" /items create.lua
}

# The three Swift systems run side by side (idle ones cost nothing) and are measured in turns:
# for each endpoint, $rounds rounds of ServiceKit, ServiceKit without access log and Hummingbird,
# each round in a new order. The machine's load drifts by tens of percent over minutes; turns
# spread the drift over all three, and the median round of each is what RESULTS.md reports.
start servicekit http://127.0.0.1:18201/readyz env PORT=18101 ADMIN_PORT=18201 "$bin/bench-servicekit"
start servicekit-nolog http://127.0.0.1:18202/readyz env PORT=18102 ADMIN_PORT=18202 ACCESS_LOG=false "$bin/bench-servicekit"
start hummingbird http://127.0.0.1:18103/hello env PORT=18103 "$peer_bin/bench-hummingbird"

# turn NAME ENDPOINT PORT PATH ROUND [LUA]: one measured round, no warm-up.
turn() {
  local name=$1 endpoint=$2 port=$3 path=$4 round=$5 lua=${6:-}
  local args=(-t"$threads" -c"$connections" --latency)
  [ -n "$lua" ] && args+=(-s "$root/Benchmarks/lua/$lua")
  wrk "${args[@]}" -d"${duration}s" "http://127.0.0.1:$port$path" >"$raw/$name.$endpoint.round$round.txt"
}

# median NAME ENDPOINT: the round with the median requests/s becomes NAME.ENDPOINT.txt.
median() {
  local name=$1 endpoint=$2 file
  file=$(for f in "$raw/$name.$endpoint".round*.txt; do
    echo "$(awk '/Requests\/sec/ {print $2}' "$f") $f"
  done | sort -n | awk '{files[NR]=$2} END {print files[int((NR+1)/2)]}')
  cp "$file" "$raw/$name.$endpoint.txt"
  echo "bench: $name $endpoint $(grep Requests/sec "$raw/$name.$endpoint.txt") (median of $rounds)" >&2
}

swift_systems=("servicekit 18101" "servicekit-nolog 18102" "hummingbird 18103")
for spec in "hello /hello -" "item /items/1 item.lua" "create /items create.lua"; do
  read -r endpoint path lua <<<"$spec"; [ "$lua" = - ] && lua=""
  for system in "${swift_systems[@]}"; do
    read -r name port <<<"$system"
    args=(-t"$threads" -c"$connections"); [ -n "$lua" ] && args+=(-s "$root/Benchmarks/lua/$lua")
    wrk "${args[@]}" -d"${warmup}s" "http://127.0.0.1:$port$path" >/dev/null
  done
  for round in $(seq 1 "$rounds"); do
    # Rotate the order each round: 0 1 2, 1 2 0, 2 0 1.
    for k in 0 1 2; do
      read -r name port <<<"${swift_systems[$(( (k + round - 1) % 3 ))]}"
      turn "$name" "$endpoint" "$port" "$path" "$round" "$lua"
    done
  done
  for system in "${swift_systems[@]}"; do read -r name _ <<<"$system"; median "$name" "$endpoint"; done
done
stop servicekit; stop servicekit-nolog; stop hummingbird

cd "$root/Benchmarks/peers/fastapi"
start fastapi-1 http://127.0.0.1:18104/hello "$venv/bin/uvicorn" --app-dir "$root/Benchmarks/peers/fastapi" app:app --port 18104 --workers 1
framework fastapi-1 18104; stop fastapi-1

start fastapi-2 http://127.0.0.1:18105/hello "$venv/bin/uvicorn" --app-dir "$root/Benchmarks/peers/fastapi" app:app --port 18105 --workers 2
framework fastapi-2 18105; stop fastapi-2
cd "$root"

seed() {
  for i in $(seq 1 100); do
    curl -fsS -o /dev/null -X POST "http://127.0.0.1:$1/items" -H 'content-type: application/json' \
      -d "{\"name\": \"Seed $i\", \"price\": $i.5, \"tags\": [\"seed\"], \"stock\": 10}"
  done
}

start catalog http://127.0.0.1:18206/readyz env PORT=18106 ADMIN_PORT=18206 DATABASE_URL="sqlite:///$work/catalog/catalog.db" "$bin/catalog"
seed 18106
load catalog get 18106 /items/1 catalog_get.lua
load catalog create 18106 /items create.lua
stop catalog

start fastapi-catalog http://127.0.0.1:18107/docs env CATALOG_DB="$work/fastapi-catalog/catalog.db" "$venv/bin/uvicorn" --app-dir "$root/Benchmarks/peers/fastapi" catalog_app:app --port 18107 --workers 1
seed 18107
load fastapi-catalog get 18107 /items/1 catalog_get.lua
load fastapi-catalog create 18107 /items create.lua
stop fastapi-catalog

# The HTTP clients: one bare Hummingbird of their own, both clients in one client-bench process.
start client-peer http://127.0.0.1:18301/hello env PORT=18301 "$peer_bin/bench-hummingbird"
"$client_bin/client-bench" --url http://127.0.0.1:18301/hello --duration "$duration" --warmup "$warmup" \
  --concurrency 1,16,64 --out "$raw" >/dev/null &
pids+=("$!")
wait "$!"
stop client-peer

"$venv/bin/python" Benchmarks/report.py "$raw" "$duration" "$connections" "$threads" >Benchmarks/RESULTS.md
echo "bench: wrote Benchmarks/RESULTS.md" >&2
