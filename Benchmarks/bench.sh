#!/usr/bin/env bash
# make bench: ServiceKit side by side with bare Hummingbird and FastAPI, in one run, on loopback;
# then CurlHTTP against AsyncHTTPClient as clients of one bare Hummingbird (Benchmarks/client).
# QUICK=1 shortens every run. Writes Benchmarks/RESULTS.md and the raw outputs in Benchmarks/raw/.
#
# The method (Benchmarks/NOTES.md, "Method"):
# - every Swift system is built the same way: `swift build -c release --static-swift-stdlib`, linked
#   with lld and `-z pack-relative-relocs` (`serviceLinking` in both Package.swift files);
# - every system is ready at its first 200 on its API port, probed the same way (bash's /dev/tcp,
#   every millisecond), and its launches are interleaved with the other systems' launches;
# - the systems run side by side and are measured in rounds, in a new order each round; each ratio
#   is the median of the per-round ratios, with their min–max;
# - each wrk run also records the server's CPU time (utime + stime of its processes, /proc/PID/stat),
#   divided by the requests completed: the steadier figure on a shared machine;
# - every request carries a `traceparent`; ServiceKit runs with everything on, a request timeout and a
#   rate limit that never triggers (RESULTS.md counts the non-2xx answers);
# - catalog's writes need a bearer token from users: a users process runs beside the two catalogs,
#   and every POST to either catalog (the seeding and the create rows) carries one token it issued.
#   catalog checks it (an ES256 signature against users' JWKS, fetched once and cached); the FastAPI
#   peer only requires the header (OAuth2PasswordBearer) and verifies no signature, so on POST
#   /items the ServiceKit side does more work than its peer.
# - the gateway's aggregation (GET /api/users/{id}/dashboard): users, catalog and orders run once,
#   seeded (a user, 12 items, 5 orders of theirs); the ServiceKit gateway and the FastAPI + httpx
#   gateway (peers/fastapi/gateway_app.py) both call those same three processes. Each round measures
#   the two gateways and each service's own endpoint of the dashboard (GET /users/{id}, GET /orders?…,
#   GET /items?…) directly, at the same connection count, so that the latency a gateway adds over its
#   slowest peer is computed per round: gateway p50 − max(the three peers' p50) of that round. The
#   same again at 1 connection (no queueing), shorter and without a warm-up. Each run also records
#   the CPU of the whole section (both gateways and the three services) per request.
#
# BENCH_ONLY="gateway" (any of frameworks, catalog, gateway, client) runs those sections alone,
# builds only what they need, and writes into Benchmarks/raw/tmp/only (git-ignored), RESULTS.md
# included, leaving Benchmarks/RESULTS.md and Benchmarks/raw as they were.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
began_run=$EPOCHSECONDS

duration=${BENCH_DURATION:-10}; warmup=3; connections=64; threads=2; rounds=5; launches=9
if [ -n "${QUICK:-}" ]; then duration=4; warmup=1; rounds=3; launches=5; fi
all_sections="frameworks catalog gateway client"
sections=${BENCH_ONLY:-$all_sections}
sections=" ${sections//,/ } "
for section in $sections; do
  [[ " $all_sections " == *" $section "* ]] || { echo "bench: BENCH_ONLY: unknown section $section (one of: $all_sections)" >&2; exit 2; }
done
want() { [[ $sections == *" $1 "* ]]; }
raw=$root/Benchmarks/raw
results=$root/Benchmarks/RESULTS.md
if [ -n "${BENCH_ONLY:-}" ]; then raw=$root/Benchmarks/raw/tmp/only; results=$raw/RESULTS.md; fi
traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01

work=$(mktemp -d /tmp/fleet-bench-XXXXXX)

# The cleanup trap stops what the script started and is still running, by pid (a pid is forgotten
# once its process has been waited for, so a reused pid is never signalled).
declare -A live=()
cleanup() {
  local pid
  for pid in "${!live[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${!live[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

scripts/deps.sh bench
venv=$root/.venv-bench
# (Re)installed whenever requirements.txt differs from the one it was installed from.
requirements=Benchmarks/peers/fastapi/requirements.txt
if [ ! -x "$venv/bin/uvicorn" ] || ! cmp -s "$requirements" "$venv/installed-requirements.txt"; then
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$requirements"
  cp "$requirements" "$venv/installed-requirements.txt"
fi

echo "bench: building release binaries" >&2
# Every Swift system is built with the same command-line flags, as the services ship: the Swift
# runtime and Foundation linked in. The linker flags (lld, packed relative relocations) are in
# each Package.swift. Each package builds in a scratch folder of its own (.build-bench*), so a run
# never waits for, or disturbs, a build in .build.
swift_flags=(-c release --static-swift-stdlib)
scratch=$root/.build-bench
peer_scratch=$root/.build-bench-peer
client_scratch=$root/.build-bench-client
products=()
want frameworks && products+=(bench-servicekit)
want catalog && products+=(catalog users)
want gateway && products+=(users catalog orders gateway)
for product in $(printf '%s\n' "${products[@]}" | awk '!seen[$0]++'); do
  swift build "${swift_flags[@]}" --scratch-path "$scratch" --product "$product" >&2
done
bin=$(swift build "${swift_flags[@]}" --scratch-path "$scratch" --show-bin-path)
if want frameworks || want client; then
  swift build "${swift_flags[@]}" --package-path Benchmarks/peers/bare-hummingbird --scratch-path "$peer_scratch" >&2
  peer_bin=$(swift build "${swift_flags[@]}" --package-path Benchmarks/peers/bare-hummingbird --scratch-path "$peer_scratch" --show-bin-path)
fi
if want client; then
  swift build -c release --package-path Benchmarks/client --scratch-path "$client_scratch" >&2
  client_bin=$(swift build -c release --package-path Benchmarks/client --scratch-path "$client_scratch" --show-bin-path)
fi

# Ports: the first free ones from BENCH_PORT_BASE (28100) up, chosen once the builds are done. The
# machine is shared, and another engineer's processes may hold some of them.
declare -A port=() admin_port=()
next_port=${BENCH_PORT_BASE:-28100}
take_port() {
  while (exec 3<>"/dev/tcp/127.0.0.1/$next_port") 2>/dev/null; do next_port=$((next_port + 1)); done
  printf -v "$1" %s "$next_port"; next_port=$((next_port + 1))
}
for name in servicekit servicekit-nolog servicekit-kitoff hummingbird fastapi-1 fastapi-2 catalog fastapi-catalog users client-peer \
  gateway fastapi-gateway fleet-users fleet-catalog fleet-orders; do
  take_port "port[$name]"
done
for name in servicekit servicekit-nolog servicekit-kitoff catalog users gateway fleet-users fleet-catalog fleet-orders; do take_port "admin_port[$name]"; done
rm -rf "$raw"; mkdir -p "$raw"
: >"$raw/summary.txt"
{
  echo "began $began_run"
  echo "sections$sections"
  echo "quick ${QUICK:-}"
  echo "rounds $rounds"
  echo "launches $launches"
  echo "warmup $warmup"
  echo "traceparent $traceparent"
  echo "ports $(for name in "${!port[@]}"; do printf "%s=%s " "$name" "${port[$name]}"; done)"
  echo "swift_flags ${swift_flags[*]}"
  echo "revision $(git describe --always --dirty 2>/dev/null || echo unknown)"
  echo "loadavg_start $(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)"
} >"$raw/run.txt"
clk_tck=$(getconf CLK_TCK)

# ServiceKit with everything on: access log (to a file), metrics, request ids, trace context, body
# limit, problem answers, and also a request timeout, a per-client rate limit far above what wrk
# reaches, CORS for the probes' Origin, compression (the answers are below its threshold) and
# security headers (docs/middleware.md). "The kit off" turns off the last four, so the pair of the
# two is the kit's own per-request cost.
everything_on=(REQUEST_TIMEOUT=30s RATE_LIMIT_RPS=10000000 RATE_LIMIT_BURST=10000000 CORS_ALLOW_ORIGINS=https://app.example.com)
kit_off=(REQUEST_TIMEOUT=30s COMPRESSION=off SECURITY_HEADERS=off)
# The framework probes send what a browser's call would: an allowed Origin and Accept-Encoding.
browser_headers=(-H "Origin: https://app.example.com" -H "Accept-Encoding: gzip, deflate")

# run_NAME: the command of each system, run in its own new, empty working folder.
run_servicekit() {
  exec env PORT="${port[servicekit]}" ADMIN_PORT="${admin_port[servicekit]}" "${everything_on[@]}" "$bin/bench-servicekit"
}
run_servicekit_nolog() {
  exec env PORT="${port[servicekit-nolog]}" ADMIN_PORT="${admin_port[servicekit-nolog]}" "${everything_on[@]}" ACCESS_LOG=false \
    "$bin/bench-servicekit"
}
run_servicekit_kitoff() {
  exec env PORT="${port[servicekit-kitoff]}" ADMIN_PORT="${admin_port[servicekit-kitoff]}" "${kit_off[@]}" "$bin/bench-servicekit"
}
run_hummingbird() { exec env PORT="${port[hummingbird]}" "$peer_bin/bench-hummingbird"; }
run_fastapi_1() { exec "$venv/bin/uvicorn" --app-dir "$root/Benchmarks/peers/fastapi" app:app --port "${port[fastapi-1]}" --workers 1; }
run_fastapi_2() { exec "$venv/bin/uvicorn" --app-dir "$root/Benchmarks/peers/fastapi" app:app --port "${port[fastapi-2]}" --workers 2; }
run_catalog() {
  exec env PORT="${port[catalog]}" ADMIN_PORT="${admin_port[catalog]}" "${everything_on[@]}" \
    DATABASE_URL="sqlite:///$work/catalog/catalog.db" USERS_URL="http://127.0.0.1:${port[users]}" "$bin/catalog"
}
# users issues the token of catalog's writes (it is not measured): the cheapest bcrypt cost, its
# SQLite file and generated signing key in its working folder, tokens valid for the whole run.
run_users() {
  exec env PORT="${port[users]}" ADMIN_PORT="${admin_port[users]}" BCRYPT_COST=4 JWT_TTL=360m \
    DATABASE_URL="sqlite:///$work/users/users.db" DATA_DIR="$work/users/data" "$bin/users"
}
run_fastapi_catalog() {
  exec env CATALOG_DB="$work/fastapi-catalog/catalog.db" "$venv/bin/uvicorn" --app-dir "$root/Benchmarks/peers/fastapi" \
    catalog_app:app --port "${port[fastapi-catalog]}" --workers 1
}
run_client_peer() { exec env PORT="${port[client-peer]}" "$peer_bin/bench-hummingbird"; }
# The gateway section's fleet: the three services as they ship (everything on), each on its own
# SQLite file, and the two gateways pointed at the same three. PEER_TIMEOUT is ServiceKit's default,
# written out so that the FastAPI gateway reads the same value.
fleet_urls() {
  echo USERS_URL="http://127.0.0.1:${port[fleet-users]}" CATALOG_URL="http://127.0.0.1:${port[fleet-catalog]}" \
    ORDERS_URL="http://127.0.0.1:${port[fleet-orders]}" USERS_ADMIN_URL="http://127.0.0.1:${admin_port[fleet-users]}" \
    CATALOG_ADMIN_URL="http://127.0.0.1:${admin_port[fleet-catalog]}" ORDERS_ADMIN_URL="http://127.0.0.1:${admin_port[fleet-orders]}" \
    PEER_TIMEOUT=5s
}
run_fleet_users() {
  exec env PORT="${port[fleet-users]}" ADMIN_PORT="${admin_port[fleet-users]}" "${everything_on[@]}" BCRYPT_COST=4 JWT_TTL=360m \
    DATABASE_URL="sqlite:///$work/fleet-users/users.db" DATA_DIR="$work/fleet-users/data" "$bin/users"
}
run_fleet_catalog() {
  exec env PORT="${port[fleet-catalog]}" ADMIN_PORT="${admin_port[fleet-catalog]}" "${everything_on[@]}" $(fleet_urls) \
    DATABASE_URL="sqlite:///$work/fleet-catalog/catalog.db" DATA_DIR="$work/fleet-catalog/data" "$bin/catalog"
}
run_fleet_orders() {
  exec env PORT="${port[fleet-orders]}" ADMIN_PORT="${admin_port[fleet-orders]}" "${everything_on[@]}" $(fleet_urls) \
    DATABASE_URL="sqlite:///$work/fleet-orders/orders.db" DATA_DIR="$work/fleet-orders/data" "$bin/orders"
}
run_gateway() {
  exec env PORT="${port[gateway]}" ADMIN_PORT="${admin_port[gateway]}" "${everything_on[@]}" $(fleet_urls) \
    DATABASE_URL="sqlite:///$work/gateway/gateway.db" DATA_DIR="$work/gateway/data" "$bin/gateway"
}
# As many workers as the other real-service peer (fastapi-catalog): one.
run_fastapi_gateway() {
  exec env $(fleet_urls) "$venv/bin/uvicorn" --app-dir "$root/Benchmarks/peers/fastapi" \
    gateway_app:app --port "${port[fastapi-gateway]}" --workers 1
}

# The path whose first 200 on the API port means ready: the same work on every system of a group
# (GET /hello for the framework systems; GET /items, a list from the database, for the two catalogs).
declare -A ready_path=([servicekit]=/hello [servicekit-nolog]=/hello [servicekit-kitoff]=/hello [hummingbird]=/hello [fastapi-1]=/hello
  [fastapi-2]=/hello [catalog]=/items [fastapi-catalog]=/items [users]=/.well-known/jwks.json [client-peer]=/hello
  [fleet-users]=/.well-known/jwks.json [fleet-catalog]=/items [fleet-orders]="/orders?limit=1")
# (The two gateways' path, their dashboard, is set once the user it shows exists.)

# A process and its descendants (uvicorn's workers are children of its supervisor).
tree_pids() {
  local child
  echo "$1"
  for child in $(pgrep -P "$1" || true); do tree_pids "$child"; done
}

# Resident memory of a process and its descendants, in KiB.
rss_tree() {
  local total=0 pid
  for pid in $(tree_pids "$1"); do
    total=$((total + $(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

# CPU time a process and its descendants have used, in clock ticks: "user system".
cpu_ticks() {
  local user=0 system=0 pid stat fields
  for pid in $(tree_pids "$1"); do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    # Fields after the command name (which is in parentheses): utime and stime are the 12th and 13th.
    read -r -a fields <<<"${stat##*) }"
    user=$((user + fields[11])); system=$((system + fields[12]))
  done
  echo "$user $system"
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

declare -A started=() launch_us=()

# launch NAME: starts a system in a new, empty working folder (so a service with migrations
# applies them every time) and records exec-to-first-200 on its API port, probed every millisecond.
launch() {
  local name=$1 began ready pid attempt
  rm -rf "${work:?}/$name"; mkdir -p "$work/$name"
  began=${EPOCHREALTIME/./}  # microseconds, without forking `date`
  ( cd "$work/$name" && "run_${name//-/_}" ) >"$raw/$name.log" 2>&1 &
  pid=$!
  live[$pid]=1
  started[$name]=$pid
  ready=
  for ((attempt = 0; attempt < 30000; attempt++)); do
    if answers_200 "${port[$name]}" "${ready_path[$name]}"; then ready=${EPOCHREALTIME/./}; break; fi
    kill -0 "$pid" 2>/dev/null || break
    read -r -t 0.001 -u "$pause_fd" || true
  done
  [ -n "$ready" ] || { echo "bench: $name did not start (Benchmarks/raw/$name.log)" >&2; exit 1; }
  launch_us[$name]+="${launch_us[$name]:+,}$((ready - began))"
}

# halt NAME: stops a system (TERM, then waits for it).
halt() {
  local pid=${started[$1]}
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "live[$pid]"
}

# startup NAME...: $launches launches of each system, interleaved (launch i of every system, then
# launch i + 1), so drifting load falls on all of them alike. The last launch of each keeps running;
# its idle RSS is recorded after a second.
startup() {
  local i name
  for ((i = 1; i <= launches; i++)); do
    for name in "$@"; do
      launch "$name"
      ((i == launches)) || halt "$name"
    done
  done
  sleep 1
  for name in "$@"; do
    echo "$name startup_us ${launch_us[$name]}" >>"$raw/summary.txt"
    echo "$name rss_idle_kib $(rss_tree "${started[$name]}")" >>"$raw/summary.txt"
    echo "bench: $name ready in $(echo "${launch_us[$name]}" | tr , '\n' | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}') ms (median of $launches)" >&2
  done
}

# stop NAME: records the RSS after load, then stops the system.
stop() {
  echo "$1 rss_loaded_kib $(rss_tree "${started[$1]}")" >>"$raw/summary.txt"
  halt "$1"
}

# Extra wrk arguments of the runs being measured: the Authorization header on catalog's writes, and
# other options (the gateway section's longer timeout).
extra_headers=()
wrk_options=()
# Systems whose CPU is also summed over each run, into OUT.fleet.cpu (the gateway section's five).
fleet_cpu=()
# A path per system, instead of compare's PATH (the gateway section measures different endpoints).
declare -A path_of=()

# Sums the CPU ticks ("user system") of several systems' process trees.
cpu_ticks_of() {
  local user=0 system=0 name u s
  for name in "$@"; do
    read -r u s <<<"$(cpu_ticks "${started[$name]}")"
    user=$((user + u)); system=$((system + s))
  done
  echo "$user $system"
}

# measure NAME PATH LUA SECONDS OUT: one wrk run against NAME, every request with the same
# `traceparent` (and $extra_headers); OUT.cpu gets the server's CPU ticks over the run ("user system
# ticks-per-second"), OUT.fleet.cpu those of $fleet_cpu's systems together when there are any.
measure() {
  local name=$1 path=$2 lua=$3 seconds=$4 out=$5 before after fleet_before fleet_after
  local args=(-t"$threads" -c"$connections" -d"${seconds}s" --latency -H "traceparent: $traceparent" "${extra_headers[@]}" "${wrk_options[@]}")
  [ "$lua" = - ] || args+=(-s "$root/Benchmarks/lua/$lua")
  [ ${#fleet_cpu[@]} -eq 0 ] || fleet_before=$(cpu_ticks_of "${fleet_cpu[@]}")
  before=$(cpu_ticks "${started[$name]}")
  wrk "${args[@]}" "http://127.0.0.1:${port[$name]}$path" >"$out"
  after=$(cpu_ticks "${started[$name]}")
  read -r b_user b_system <<<"$before"; read -r a_user a_system <<<"$after"
  echo "$((a_user - b_user)) $((a_system - b_system)) $clk_tck" >"$out.cpu"
  if [ ${#fleet_cpu[@]} -gt 0 ]; then
    fleet_after=$(cpu_ticks_of "${fleet_cpu[@]}")
    read -r b_user b_system <<<"$fleet_before"; read -r a_user a_system <<<"$fleet_after"
    echo "$((a_user - b_user)) $((a_system - b_system)) $clk_tck" >"$out.fleet.cpu"
  fi
}

# compare ENDPOINT PATH LUA NAME...: a warm-up of each system (none when $no_warmup is set), then
# $rounds rounds of one measured run per system, the order rotated each round (with three systems:
# 0 1 2, 1 2 0, 2 0 1). A system with an entry in $path_of is measured on that path.
no_warmup=
compare() {
  local endpoint=$1 path=$2 lua=$3; shift 3
  local systems=("$@") round k name
  if [ -z "$no_warmup" ]; then
    for name in "${systems[@]}"; do
      measure "$name" "${path_of[$name]:-$path}" "$lua" "$warmup" "$raw/$name.$endpoint.warmup.txt"
    done
  fi
  for ((round = 1; round <= rounds; round++)); do
    for ((k = 0; k < ${#systems[@]}; k++)); do
      name=${systems[$(( (k + round - 1) % ${#systems[@]} ))]}
      measure "$name" "${path_of[$name]:-$path}" "$lua" "$duration" "$raw/$name.$endpoint.round$round.txt"
      echo "bench: $endpoint round $round $name $(awk '/Requests\/sec/ {print $2}' "$raw/$name.$endpoint.round$round.txt") req/s" >&2
    done
  done
}

# The framework systems run side by side (idle ones cost nothing) and take turns under load.
if want frameworks; then
  frameworks=(servicekit servicekit-nolog servicekit-kitoff hummingbird fastapi-1 fastapi-2)
  startup "${frameworks[@]}"
  extra_headers=("${browser_headers[@]}")
  compare hello /hello - "${frameworks[@]}"
  compare item /items/1 item.lua "${frameworks[@]}"
  compare create /items create.lua "${frameworks[@]}"
  extra_headers=()
  for name in "${frameworks[@]}"; do stop "$name"; done
fi

seed() {
  for i in $(seq 1 100); do
    curl -fsS -o /dev/null -X POST "http://127.0.0.1:$1/items" -H 'content-type: application/json' \
      -H "Authorization: Bearer $token" -d "{\"name\": \"Seed $i\", \"price\": $i.5, \"tags\": [\"seed\"], \"stock\": 10}"
  done
}

# A bearer token from a users process (POST /users, then the OAuth2 password flow, a form).
token_from() {
  curl -fsS -o /dev/null -X POST "http://127.0.0.1:$1/users" -H 'content-type: application/json' \
    -d "{\"username\": \"$2\", \"email\": \"$2@example.org\", \"password\": \"bench-password\"}"
  curl -fsS -X POST "http://127.0.0.1:$1/token" -d "username=$2&password=bench-password" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

if want catalog; then
  # The token of catalog's writes: an account on users, then the OAuth2 password flow (a form).
  launch users
  token=$(token_from "${port[users]}" bench)
  [ -n "$token" ] || { echo "bench: users issued no token (Benchmarks/raw/users.log)" >&2; exit 1; }

  # The real service against its FastAPI peer, both on SQLite with the same durability settings.
  startup catalog fastapi-catalog
  seed "${port[catalog]}"; seed "${port[fastapi-catalog]}"
  compare get /items/1 catalog_get.lua catalog fastapi-catalog
  extra_headers=(-H "Authorization: Bearer $token")
  compare create /items create.lua catalog fastapi-catalog
  extra_headers=()
  stop catalog; stop fastapi-catalog; halt users
fi

# Every request carried the traceparent: ServiceKit's access log shows its trace id.
trace_id=$(cut -d- -f2 <<<"$traceparent")
if want frameworks && ! grep -q "$trace_id" "$raw/servicekit.log"; then
  echo "bench: the access log of servicekit does not show the traceparent's trace id" >&2; exit 1
fi

# The gateway's aggregation: users, catalog and orders once, seeded through their APIs, and the two
# gateways in front of those same three processes. Each round measures both gateways' dashboard and
# each service's own call of it, directly; then the same at 1 connection.
if want gateway; then
  fleet=(fleet-users fleet-catalog fleet-orders)
  for name in "${fleet[@]}"; do launch "$name"; done
  fleet_token=$(token_from "${port[fleet-users]}" dashboard)
  [ -n "$fleet_token" ] || { echo "bench: users issued no token (Benchmarks/raw/fleet-users.log)" >&2; exit 1; }
  user_id=$(curl -fsS "http://127.0.0.1:${port[fleet-users]}/users/me" -H "Authorization: Bearer $fleet_token" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
  # 12 items (the dashboard shows the first 10), then 5 orders of two lines each (stock reserved
  # through catalog, as a client's order is).
  for i in $(seq 1 12); do
    curl -fsS -o /dev/null -X POST "http://127.0.0.1:${port[fleet-catalog]}/items" -H 'content-type: application/json' \
      -H "Authorization: Bearer $fleet_token" \
      -d "{\"name\": \"Dashboard item $i\", \"price\": $i.25, \"description\": \"Item $i of the dashboard\", \"tags\": [\"bench\", \"dashboard\"], \"stock\": 1000}"
  done
  for i in $(seq 1 5); do
    curl -fsS -o /dev/null -X POST "http://127.0.0.1:${port[fleet-orders]}/orders" -H 'content-type: application/json' \
      -H "Authorization: Bearer $fleet_token" -d "{\"lines\": [{\"item_id\": $i, \"quantity\": 1}, {\"item_id\": $((i + 5)), \"quantity\": 2}]}"
  done
  dashboard=/api/users/$user_id/dashboard
  ready_path[gateway]=$dashboard; ready_path[fastapi-gateway]=$dashboard
  launch gateway; launch fastapi-gateway
  # Both gateways must give the same answer (the same JSON value, five orders, ten items, nothing
  # degraded), or the rows would compare different work.
  curl -fsS -o "$raw/gateway.dashboard.json" "http://127.0.0.1:${port[gateway]}$dashboard"
  curl -fsS -o "$raw/fastapi-gateway.dashboard.json" "http://127.0.0.1:${port[fastapi-gateway]}$dashboard"
  python3 - "$raw/gateway.dashboard.json" "$raw/fastapi-gateway.dashboard.json" <<'CHECK' || exit 1
import json, sys
servicekit, fastapi = (json.load(open(path)) for path in sys.argv[1:])
problems = []
if servicekit != fastapi:
    problems.append("the two gateways answer different dashboards")
for name, answer in (("gateway", servicekit), ("fastapi-gateway", fastapi)):
    if answer.get("degraded") != [] or len(answer.get("orders") or []) != 5 or len(answer.get("items") or []) != 10:
        problems.append(f"{name}: expected 5 orders, 10 items and nothing degraded")
for problem in problems:
    print(f"bench: {problem} (Benchmarks/raw/*.dashboard.json)", file=sys.stderr)
sys.exit(1 if problems else 0)
CHECK
  path_of=([gateway]=$dashboard [fastapi-gateway]=$dashboard [fleet-users]=/users/$user_id
    [fleet-orders]="/orders?limit=20&offset=0&user_id=$user_id" [fleet-catalog]="/items?limit=10&offset=0")
  gateway_systems=(gateway fastapi-gateway fleet-users fleet-orders fleet-catalog)
  fleet_cpu=("${gateway_systems[@]}")
  # wrk leaves a request out of its latencies once it has waited 2 s (its default timeout), which would
  # flatter a saturated gateway's p50 and p99: 10 s, past PEER_TIMEOUT, counts every answer.
  wrk_options=(--timeout 10s)
  compare dashboard - - "${gateway_systems[@]}"
  # At 1 connection the latencies carry no queueing: half the duration and no warm-up (every
  # system has just run), to keep the section short.
  saved=("$connections" "$threads" "$duration")
  connections=1; threads=1; duration=$(((duration + 1) / 2)); no_warmup=1
  echo "dashboard_c1 $duration $connections $threads" >>"$raw/run.txt"
  compare dashboard-c1 - - "${gateway_systems[@]}"
  connections=${saved[0]}; threads=${saved[1]}; duration=${saved[2]}; no_warmup=
  fleet_cpu=(); path_of=(); wrk_options=()
  for name in gateway fastapi-gateway "${fleet[@]}"; do stop "$name"; done
fi

# The HTTP clients: one bare Hummingbird of their own, both clients in one client-bench process.
if want client; then
  launch client-peer
  "$client_bin/client-bench" --url "http://127.0.0.1:${port[client-peer]}/hello" --duration "$duration" --warmup "$warmup" \
    --concurrency 1,16,64 --out "$raw" >/dev/null &
  live[$!]=1
  wait "$!"
  unset "live[$!]"
  halt client-peer
fi

{
  echo "loadavg_end $(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)"
  echo "ended $EPOCHSECONDS"
} >>"$raw/run.txt"
"$venv/bin/python" Benchmarks/report.py "$raw" "$duration" "$connections" "$threads" >"$results"
echo "bench: wrote ${results#"$root"/}" >&2
