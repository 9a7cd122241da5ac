"""Turns the raw outputs of Benchmarks/bench.sh into Benchmarks/RESULTS.md.

Every ratio is paired: round i of one system against round i of the other (they ran back to back,
under the same load), and the table shows the median of those per-round ratios with their min–max.
Start-up ratios pair launch i of each system the same way.

The gateway's added latency is paired within a round too: a gateway's p50 in round i minus the
largest of the three services' own p50 in round i (each measured directly in that round).
"""
import json
import os
import platform
import re
import statistics
import subprocess
import sys
from datetime import datetime, timezone

raw, duration, connections, threads = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]


def seconds(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def parse(path):
    text = open(path).read()
    result = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "requests": int(re.search(r"(\d+) requests in", text).group(1)),
    }
    for pct in ("50", "99"):
        match = re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M)
        result[f"p{pct}"] = seconds(match.group(1)) if match else float("nan")
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    result["socket_errors"] = sum(int(x) for x in socket.groups()) if socket else 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    result["non2xx"] = int(non2xx.group(1)) if non2xx else 0
    cpu_file = path + ".cpu"
    if os.path.exists(cpu_file):
        user, system, tck = (int(x) for x in open(cpu_file).read().split())
        per = 1e6 / tck / max(result["requests"], 1)
        result["cpu_user"], result["cpu_sys"] = user * per, system * per
        result["cpu"] = (user + system) * per
    fleet_file = path + ".fleet.cpu"
    if os.path.exists(fleet_file):
        user, system, tck = (int(x) for x in open(fleet_file).read().split())
        result["fleet_cpu"] = (user + system) * 1e6 / tck / max(result["requests"], 1)
    return result


run = {}
for line in open(os.path.join(raw, "run.txt")):
    key, _, value = line.rstrip("\n").partition(" ")
    run[key] = value

summary = {}
for line in open(os.path.join(raw, "summary.txt")):
    name, key, value = line.split()
    summary.setdefault(name, {})[key] = [int(x) for x in value.split(",")] if key == "startup_us" else int(value)

# rounds[(system, endpoint)] = {round number: figures}; warm-ups only count towards the error totals.
rounds, warmups = {}, {}
for file in sorted(os.listdir(raw)):
    match = re.match(r"(.+)\.(hello|item|create|get|dashboard|dashboard-c1)\.(round(\d+)|warmup)\.txt$", file)
    if match:
        figures = parse(os.path.join(raw, file))
        if match.group(4):
            rounds.setdefault((match.group(1), match.group(2)), {})[int(match.group(4))] = figures
        else:
            warmups[(match.group(1), match.group(2))] = figures


def version(command):
    try:
        return subprocess.run(command, capture_output=True, text=True, shell=True).stdout.strip().splitlines()[0]
    except Exception:
        return "unknown"


def median(values):
    return statistics.median(values) if values else float("nan")


def spread(values, fmt):
    """'median (min–max)' of values, each formatted by fmt."""
    if not values:
        return "n/a"
    return f"{fmt(median(values))} ({fmt(min(values))}–{fmt(max(values))})"


def times(value):
    return f"{value:.2f}×"


def paired(a, b, endpoint, key):
    """Per-round ratios a/b of one figure, over the rounds both systems have."""
    ra, rb = rounds.get((a, endpoint), {}), rounds.get((b, endpoint), {})
    return [ra[i][key] / rb[i][key] for i in sorted(ra) if i in rb and rb[i].get(key)]


def figures(name, endpoint, key):
    return [r[key] for _, r in sorted(rounds.get((name, endpoint), {}).items()) if key in r]


def ms(value):
    return f"{value * 1000:.2f}"


def mib(kib):
    return f"{kib / 1024:.1f}"


cpu = version("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
n_rounds = run.get("rounds", "?")
n_launches = run.get("launches", "?")
elapsed = int(run.get("ended", 0) or 0) - int(run.get("began", 0) or 0)
started = datetime.fromtimestamp(int(run.get("began", 0) or 0), timezone.utc)
flags = run.get("swift_flags", "")

out = []
out.append("# Benchmark results\n")
out.append(
    f"Run {started.strftime('%Y-%m-%d %H:%M UTC')} by `make bench`{' (QUICK=1)' if run.get('quick') else ''}, "
    f"which took {elapsed // 60} min {elapsed % 60} s, builds included. "
    f"wrk -t{threads} -c{connections} -d{duration}s, {n_rounds} rounds per endpoint after a {run.get('warmup', '?')} s warm-up of each system; "
    "every system started by the script on 127.0.0.1 and stopped after its runs. "
    "The systems of a table run side by side and are measured in turns, the order rotated each round. "
    "**Every ratio is the median of the per-round ratios** (round i of one system over round i of the other, "
    "run back to back), with their min–max in parentheses; figures of one system are the median of its rounds "
    "(min–max in parentheses). All rounds are in Benchmarks/raw. "
    "CPU µs/request is the server's own user + system time (its processes' utime + stime in /proc/PID/stat, "
    "read before and after each wrk run) divided by the requests wrk completed: on this shared two-core machine "
    "it is the steadier figure, since requests/s of the same binary moves by ±25% between rounds. "
    "wrk shares the cores with the server, so read the ratios, not the absolute figures.\n"
)
out.append(f"- Machine: {os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}; "
           f"load average {run.get('loadavg_start', '?').replace(',', ' ')} at the start, "
           f"{run.get('loadavg_end', '?').replace(',', ' ')} at the end (the machine is shared with other builds)")
out.append(f"- {version('swift --version 2>&1 | head -1')}; **every Swift system built the same way**: `swift build {flags}`, "
           "linked with lld and `-z pack-relative-relocs` (`serviceLinking` in Package.swift and in the bare "
           "Hummingbird peer's Package.swift)")
out.append(f"- Code measured: commit {run.get('revision', 'unknown')} (`-dirty`: with uncommitted changes)")
out.append(f"- {version('wrk -v 2>&1 | head -1')}; every request carries `traceparent: {run.get('traceparent', '?')}`")
out.append(f"- Python {platform.python_version()}, {version(sys.executable + ' -m pip show fastapi | grep Version')} (fastapi), "
           f"{version(sys.executable + ' -m pip show uvicorn | grep Version')} (uvicorn[standard], its access log on)")
out.append("- ServiceKit \"everything on\": access log (to a file), metrics, request ids, trace context from the "
           "incoming `traceparent`, body limit, problem answers, `REQUEST_TIMEOUT=30s`, and "
           "a per-client `RATE_LIMIT_RPS`/`RATE_LIMIT_BURST` of 10,000,000 (never reached: the non-2xx column counts every "
           "answer that was not a 2xx, warm-ups included), and the middleware kit (docs/middleware.md): security headers, "
           "CORS for the probes' `Origin: https://app.example.com`, compression negotiated for their `Accept-Encoding: gzip, "
           "deflate` (every framework answer is below the 1 KiB threshold). \"The middleware kit off\" is the same binary "
           "with `COMPRESSION=off SECURITY_HEADERS=off`, no CORS and no rate limit: their pair is the kit's cost. "
           "The framework probes send that Origin and Accept-Encoding to every system alike.\n")

systems = [("servicekit", "ServiceKit, everything on"),
           ("servicekit-nolog", "ServiceKit, everything on but the access log"),
           ("servicekit-kitoff", "ServiceKit, the middleware kit off (no CORS, compression, security headers, rate limit)"),
           ("hummingbird", "bare Hummingbird 2 (Codable, no middleware)"),
           ("fastapi-1", "FastAPI + uvicorn, 1 worker"),
           ("fastapi-2", "FastAPI + uvicorn, 2 workers")]
labels = dict(systems + [("catalog", "catalog (ServiceKit, SQLite)"), ("fastapi-catalog", "FastAPI + sqlite3, 1 worker"),
                         ("gateway", "gateway (ServiceKit + CurlHTTP)"), ("fastapi-gateway", "FastAPI + httpx, 1 worker"),
                         ("fleet-users", "users: GET /users/{id}"),
                         ("fleet-orders", "orders: GET /orders?limit=20&offset=0&user_id={id}"),
                         ("fleet-catalog", "catalog: GET /items?limit=10&offset=0")])
endpoints = [("hello", "GET /hello"), ("item", "GET /items/{id}?q="), ("create", "POST /items")]


def figure_rows(names, endpoint):
    rows = ["| system | req/s | p50 ms | p99 ms | CPU µs/request | of which system | non-2xx | socket errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name in names:
        if (name, endpoint) not in rounds:
            continue
        every = list(rounds[(name, endpoint)].values()) + ([warmups[(name, endpoint)]] if (name, endpoint) in warmups else [])
        rows.append(
            f"| {labels[name]} | {spread(figures(name, endpoint, 'rps'), lambda v: f'{v:.0f}')} | "
            f"{ms(median(figures(name, endpoint, 'p50')))} | {ms(median(figures(name, endpoint, 'p99')))} | "
            f"{spread(figures(name, endpoint, 'cpu'), lambda v: f'{v:.1f}')} | {median(figures(name, endpoint, 'cpu_sys')):.1f} | "
            f"{sum(r['non2xx'] for r in every)} | {sum(r['socket_errors'] for r in every)} |")
    return rows


def ratio_rows(pairs, endpoint):
    rows = ["| ratio (per round) | req/s | p99 | CPU/request |", "|---|---:|---:|---:|"]
    for a, b in pairs:
        if (a, endpoint) in rounds and (b, endpoint) in rounds:
            rows.append(f"| {labels[a]} / {labels[b]} | {spread(paired(a, b, endpoint, 'rps'), times)} | "
                        f"{spread(paired(a, b, endpoint, 'p99'), times)} | {spread(paired(a, b, endpoint, 'cpu'), times)} |")
    return rows


def has(names, endpoints_of):
    return any((name, endpoint) in rounds for name in names for endpoint in endpoints_of)


framework_pairs = [("servicekit", "hummingbird"), ("servicekit-nolog", "hummingbird"), ("servicekit", "servicekit-kitoff"),
                   ("servicekit", "fastapi-1"), ("servicekit", "fastapi-2")]
if has([name for name, _ in systems], [e for e, _ in endpoints]):
    out.append("## Framework overhead (served from memory)\n")
for endpoint, title in endpoints:
    if not has([name for name, _ in systems], [endpoint]):
        continue
    out.append(f"### {title}\n")
    out += figure_rows([name for name, _ in systems], endpoint)
    out.append("")
    out += ratio_rows(framework_pairs, endpoint)
    out.append("")

if has(["catalog", "fastapi-catalog"], ["get", "create"]):
    out.append("## The real service: catalog on SQLite\n")
    out.append("catalog as it ships (everything on, as above) against a FastAPI peer with the same schema, statements "
               "and SQLite settings: WAL, `synchronous=NORMAL`, connections opened once and pooled (four readers, one "
               "writer), a write in one `BEGIN IMMEDIATE` transaction. 100 items are seeded first; GET reads them at random.\n")
    for endpoint, title in (("get", "GET /items/{id}"), ("create", "POST /items")):
        out.append(f"### {title}\n")
        out += figure_rows(["catalog", "fastapi-catalog"], endpoint)
        out.append("")
        out += ratio_rows([("catalog", "fastapi-catalog")], endpoint)
        out.append("")

# The gateway's aggregation: two gateways in front of the same three services, and each service's
# own part of the dashboard measured directly in the same rounds.
gateways = ["gateway", "fastapi-gateway"]
fleet = ["fleet-users", "fleet-orders", "fleet-catalog"]


def added_latency(name, endpoint):
    """Per round: the gateway's p50 minus the largest p50 of the three services in that round."""
    mine = rounds.get((name, endpoint), {})
    peers = [rounds.get((peer, endpoint), {}) for peer in fleet]
    return [mine[i]["p50"] - max(p[i]["p50"] for p in peers) for i in sorted(mine) if all(i in p for p in peers)]


def slowest_peer(endpoint):
    """Per round: the largest p50 of the three services, and whose it was."""
    peers = {peer: rounds.get((peer, endpoint), {}) for peer in fleet}
    common = sorted(set.intersection(*(set(r) for r in peers.values()))) if all(peers.values()) else []
    return [max((peers[peer][i]["p50"], peer) for peer in fleet) for i in common]


def gateway_rows(endpoint):
    rows = ["| system | req/s | p50 ms | p99 ms | CPU µs/request | section CPU µs/request | non-2xx | socket errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name in gateways + fleet:
        if (name, endpoint) not in rounds:
            continue
        every = list(rounds[(name, endpoint)].values()) + ([warmups[(name, endpoint)]] if (name, endpoint) in warmups else [])
        rows.append(
            f"| {labels[name]} | {spread(figures(name, endpoint, 'rps'), lambda v: f'{v:.0f}')} | "
            f"{spread(figures(name, endpoint, 'p50'), ms)} | {spread(figures(name, endpoint, 'p99'), ms)} | "
            f"{spread(figures(name, endpoint, 'cpu'), lambda v: f'{v:.1f}')} | "
            f"{spread(figures(name, endpoint, 'fleet_cpu'), lambda v: f'{v:.1f}')} | "
            f"{sum(r['non2xx'] for r in every)} | {sum(r['socket_errors'] for r in every)} |")
    return rows


c1 = run.get("dashboard_c1", "").split()
dashboard_runs = [("dashboard", f"{connections} connections, {threads} threads, {duration} s per run"),
                  ("dashboard-c1", f"1 connection, 1 thread, {c1[0] if c1 else '?'} s per run, no warm-up")]
if has(gateways, ["dashboard", "dashboard-c1"]):
    out.append("## The gateway: GET /api/users/{id}/dashboard\n")
    out.append("users, catalog and orders (release builds, everything on as above, each on its own SQLite file) run once, "
               "seeded through their APIs with one user, 12 items and 5 orders of that user (two lines each). Two gateways "
               "call those same three processes: the ServiceKit gateway (`Services/Gateway`: `async let`, CurlHTTP, "
               "typed peer calls under one `PEER_TIMEOUT` deadline) and `Benchmarks/peers/fastapi/gateway_app.py` "
               "(FastAPI, one shared `httpx.AsyncClient` with CurlHTTP's pool size and connect timeout, `asyncio.gather`, "
               "pydantic models, one uvicorn worker as the FastAPI catalog peer has). bench.sh checks first that both "
               "answer the same JSON (5 orders, 10 items, `degraded: []`). Each round measures the two gateways and, "
               "directly, each service's own call of the dashboard, in a rotating order. *CPU µs/request* is that "
               "system's own processes; *section CPU* is all five processes of the section together (both gateways and "
               "the three services; the idle gateway costs next to nothing) per request answered: for a gateway row, "
               "what one dashboard costs the whole fleet.\n")
    out.append("**Added latency over the slowest peer**, per round i: the gateway's p50 in round i minus the largest of "
               "the three services' p50 in round i, each service measured directly with wrk at the same connection count; "
               "the table shows the median of those per-round differences (min–max). With 64 connections on two cores "
               "every system runs at saturation, so a p50 there is mostly queueing (connections ÷ requests/s): a gateway's "
               "request costs the gateway's CPU and three services' CPU on the same cores, and its added latency measures "
               "that total, not the time the gateway's own code adds. The 1-connection rows have no queueing.\n")
    for endpoint, how in dashboard_runs:
        if not has(gateways, [endpoint]):
            continue
        out.append(f"### {how}\n")
        out += gateway_rows(endpoint)
        out.append("")
        out.append("| ratio (per round): ServiceKit gateway / FastAPI + httpx | req/s | p50 | p99 | CPU/request | section CPU/request |")
        out.append("|---|---:|---:|---:|---:|---:|")
        out.append("| " + " | ".join([labels["gateway"] + " / " + labels["fastapi-gateway"]] +
                                    [spread(paired("gateway", "fastapi-gateway", endpoint, key), times)
                                     for key in ("rps", "p50", "p99", "cpu", "fleet_cpu")]) + " |")
        out.append("")
        slowest = slowest_peer(endpoint)
        out.append("| added latency over the slowest peer, p50 (per round) | ms: median (min–max) | the rounds |")
        out.append("|---|---:|---|")
        for name in gateways:
            values = added_latency(name, endpoint)
            if values:
                out.append(f"| {labels[name]} | {spread(values, ms)} | {', '.join(ms(v) for v in values)} |")
        if slowest:
            out.append(f"| (the slowest peer's p50) | {spread([v for v, _ in slowest], ms)} | "
                       f"{', '.join(ms(v) + ' (' + peer.removeprefix('fleet-') + ')' for v, peer in slowest)} |")
        out.append("")
    rss = [(name, summary.get(name, {}).get("rss_loaded_kib")) for name in gateways]
    if all(kib for _, kib in rss):
        out.append("RSS after the load: " + ", ".join(f"{labels[name]} {mib(kib)} MiB" for name, kib in rss) + ".\n")

client_table = os.path.join(raw, "client.md")
client_rows = []
if os.path.exists(client_table):
    out.append("## CurlHTTP vs AsyncHTTPClient\n")
    out.append("The HTTP clients as a service uses them: `client-bench` (Benchmarks/client) sends GET /hello to a bare "
               "Hummingbird of its own with CurlHTTP (`retry = .none`) and AsyncHTTPClient 1.37.0 (singleton event loop "
               "group, 64 connections per host) in turns, from one process, 1, 16 and 64 requests in flight. "
               "The server shares the two cores with the client, so a client that spends less CPU also leaves more to the "
               "server. Metrics are off here (MetricsSystem unbootstrapped); in the services CurlHTTP records a timer and "
               "a counter per call into Prometheus, which AsyncHTTPClient does not do at all.\n")
    out.append(open(client_table).read())
    client_json = os.path.join(raw, "client.json")
    if os.path.exists(client_json):
        # A row without a successful request carries "nan" (a string) for its figures.
        client_rows = [{key: float(value) if isinstance(value, str) and key != "client" else value for key, value in row.items()}
                       for row in json.load(open(client_json))]


def launch_ratios(a, b):
    la, lb = summary.get(a, {}).get("startup_us", []), summary.get(b, {}).get("startup_us", [])
    return [x / y for x, y in zip(la, lb) if y]


startup_names = [name for name, _ in systems] + ["catalog", "fastapi-catalog"]
if any(summary.get(name, {}).get("startup_us") for name in startup_names):
    out.append("## Start-up and memory\n")
    out.append(f"Exec to the first 200 on the API port (GET /hello; GET /items for the two catalogs), probed every "
               f"millisecond over bash's /dev/tcp; {n_launches} launches of each system, each in a new, empty working "
               "folder (catalog applies its migrations every time), interleaved with the other systems' launches. "
               "The last launch keeps running: its RSS is read after a second idle and again after its load.\n")
    out.append("| system | ready, ms (median, min–max) | the launches, ms | RSS idle (MiB) | RSS after load (MiB) |")
    out.append("|---|---:|---|---:|---:|")
    for name in [name for name, _ in systems] + ["catalog", "fastapi-catalog"]:
        s = summary.get(name)
        if s:
            launches_ms = [us / 1000 for us in s.get("startup_us", [])]
            out.append(f"| {labels[name]} | {spread(launches_ms, lambda v: f'{v:.1f}')} | "
                       f"{', '.join(f'{v:.1f}' for v in launches_ms)} | {mib(s.get('rss_idle_kib', 0))} | {mib(s.get('rss_loaded_kib', 0))} |")
    out.append("")
    out.append("| ratio (per launch) | ready time |")
    out.append("|---|---:|")
    for a, b in (("servicekit", "hummingbird"), ("servicekit-nolog", "hummingbird"), ("catalog", "hummingbird"),
                 ("servicekit", "fastapi-1"), ("catalog", "fastapi-catalog")):
        if launch_ratios(a, b):
            out.append(f"| {labels[a]} / {labels[b]} | {spread(launch_ratios(a, b), times)} |")
    out.append("")

out.append("## Targets\n")
out.append("Those of the first benchmark issue, and the gateway's of issue 14 (point 7). A target is met when the median of its per-round (per-launch) ratios "
           "meets it; the last column says in how many rounds it held.\n")
checks = []


def check(title, values, ok, fmt=times):
    if values:
        held = sum(1 for v in values if ok(v))
        checks.append((title, ok(median(values)), spread(values, fmt), f"{held} of {len(values)}"))


for endpoint, title in endpoints:
    check(f"{title}: ServiceKit ≥ 85% of Hummingbird's req/s", paired("servicekit", "hummingbird", endpoint, "rps"), lambda v: v >= 0.85)
    check(f"{title}: ServiceKit p99 ≤ 1.2× Hummingbird's", paired("servicekit", "hummingbird", endpoint, "p99"), lambda v: v <= 1.2)
    check(f"{title}: ServiceKit ≥ 4× FastAPI 1 worker", paired("servicekit", "fastapi-1", endpoint, "rps"), lambda v: v >= 4)
    check(f"{title}: ServiceKit ≥ 2× FastAPI 2 workers", paired("servicekit", "fastapi-2", endpoint, "rps"), lambda v: v >= 2)
sk = summary.get("servicekit", {})
if sk:
    checks.append(("ServiceKit idle RSS ≤ 40 MiB", sk["rss_idle_kib"] <= 40 * 1024, f"{mib(sk['rss_idle_kib'])} MiB", "one"))
check("ServiceKit ready within 1.5× Hummingbird's time", launch_ratios("servicekit", "hummingbird"), lambda v: v <= 1.5)
check(f"GET /api/users/{{id}}/dashboard: the gateway adds ≤ 2 ms at p50 over its slowest peer ({connections} connections)",
      added_latency("gateway", "dashboard"), lambda v: v <= 0.002, lambda v: f"{ms(v)} ms")
check("GET /api/users/{id}/dashboard: the same at 1 connection (no queueing; not the issue's definition)",
      added_latency("gateway", "dashboard-c1"), lambda v: v <= 0.002, lambda v: f"{ms(v)} ms")
for inflight in sorted({row["concurrency"] for row in client_rows}):
    curl = next((r for r in client_rows if r["concurrency"] == inflight and r["client"] == "CurlHTTP"), None)
    ahc = next((r for r in client_rows if r["concurrency"] == inflight and r["client"] == "AsyncHTTPClient"), None)
    if curl and ahc:
        for metric, key, better in (("req/s ≥", "requestsPerSecond", lambda a, b: a >= b),
                                    ("p99 ≤", "p99Milliseconds", lambda a, b: a <= b),
                                    ("CPU/request ≤", "cpuMicrosecondsPerRequest", lambda a, b: a <= b)):
            checks.append((f"{inflight} in flight: CurlHTTP {metric} AsyncHTTPClient's", better(curl[key], ahc[key]),
                           times(curl[key] / ahc[key]) if ahc[key] else "n/a", "one (A B B A)"))
out.append("| target | met | measured: median (min–max) | rounds that meet it |")
out.append("|---|---|---|---|")
for title, met, measured, held in checks:
    out.append(f"| {title} | {'met' if met else '**unmet**'} | {measured} | {held} |")
out.append("")
notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "NOTES.md")
if os.path.exists(notes):
    out.append(open(notes).read())
print("\n".join(out))
