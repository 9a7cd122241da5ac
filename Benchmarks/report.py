"""Turns the raw outputs of Benchmarks/bench.sh into Benchmarks/RESULTS.md (ratios from one run)."""
import json
import os
import platform
import re
import subprocess
import sys
from datetime import datetime, timezone

raw, duration, connections, threads = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]


def seconds(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def parse(path):
    text = open(path).read()
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}
    for pct in ("50", "99"):
        match = re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M)
        result[f"p{pct}"] = seconds(match.group(1)) if match else float("nan")
    errors = 0
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if socket:
        errors += sum(int(x) for x in socket.groups())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if non2xx:
        errors += int(non2xx.group(1))
    result["errors"] = errors
    return result


summary = {}
for line in open(os.path.join(raw, "summary.txt")):
    name, key, value = line.split()
    summary.setdefault(name, {})[key] = value if key == "startup_launches" else int(value)

runs = {}
for file in sorted(os.listdir(raw)):
    match = re.match(r"(.+)\.(hello|item|create|get)\.txt$", file)
    if match:
        runs[(match.group(1), match.group(2))] = parse(os.path.join(raw, file))


def version(command):
    try:
        return subprocess.run(command, capture_output=True, text=True, shell=True).stdout.strip().splitlines()[0]
    except Exception:
        return "unknown"


def ms(value):
    return f"{value * 1000:.2f}"


def ratio(a, b):
    return f"{a / b:.2f}×" if b else "n/a"


cpu = version("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
out = []
out.append("# Benchmark results\n")
out.append(f"Run {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} by `make bench`"
           f"{' (QUICK=1)' if os.environ.get('QUICK') else ''}: wrk -t{threads} -c{connections} -d{duration}s after a warm-up, "
           "every system started by the script on 127.0.0.1 and stopped after its runs. "
           "ServiceKit (both ways) and bare Hummingbird run side by side and are measured in turns: three rounds "
           "per endpoint, the order rotated each round, and the round with the median requests/s is the one shown "
           "(all rounds are in Benchmarks/raw). "
           "wrk shares the machine's cores with the server, so read the ratios, not the absolute figures.\n")
out.append(f"- Machine: {os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}")
out.append(f"- {version('swift --version 2>&1 | head -1')}; the ServiceKit services built with `--static-swift-stdlib` (as they ship), the peers with the defaults")
out.append(f"- {version('wrk -v 2>&1 | head -1')}")
out.append(f"- Python {platform.python_version()}, {version(sys.executable + ' -m pip show fastapi | grep Version')} (fastapi), "
           f"{version(sys.executable + ' -m pip show uvicorn | grep Version')} (uvicorn[standard])\n")

systems = [("servicekit", "ServiceKit, everything on (access log to a file)"),
           ("servicekit-nolog", "ServiceKit, access log off"),
           ("hummingbird", "bare Hummingbird 2 (Codable, no middleware)"),
           ("fastapi-1", "FastAPI + uvicorn, 1 worker"),
           ("fastapi-2", "FastAPI + uvicorn, 2 workers")]
endpoints = [("hello", "GET /hello"), ("item", "GET /items/{id}?q="), ("create", "POST /items")]

out.append("## Framework overhead (served from memory)\n")
for endpoint, title in endpoints:
    out.append(f"### {title}\n")
    out.append("| system | req/s | p50 ms | p99 ms | errors | vs Hummingbird | vs FastAPI 1w | vs FastAPI 2w |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    hb = runs.get(("hummingbird", endpoint), {}).get("rps", 0)
    f1 = runs.get(("fastapi-1", endpoint), {}).get("rps", 0)
    f2 = runs.get(("fastapi-2", endpoint), {}).get("rps", 0)
    for name, label in systems:
        r = runs.get((name, endpoint))
        if not r:
            continue
        out.append(f"| {label} | {r['rps']:.0f} | {ms(r['p50'])} | {ms(r['p99'])} | {r['errors']} | "
                   f"{ratio(r['rps'], hb)} | {ratio(r['rps'], f1)} | {ratio(r['rps'], f2)} |")
    out.append("")

out.append("## The real service: catalog on SQLite\n")
out.append("| system | endpoint | req/s | p50 ms | p99 ms | errors | vs FastAPI |")
out.append("|---|---|---:|---:|---:|---:|---:|")
for endpoint, title in (("get", "GET /items/{id}"), ("create", "POST /items")):
    fastapi = runs.get(("fastapi-catalog", endpoint), {}).get("rps", 0)
    for name, label in (("catalog", "catalog (ServiceKit)"), ("fastapi-catalog", "FastAPI + sqlite3, 1 worker")):
        r = runs.get((name, endpoint))
        if r:
            out.append(f"| {label} | {title} | {r['rps']:.0f} | {ms(r['p50'])} | {ms(r['p99'])} | {r['errors']} | {ratio(r['rps'], fastapi)} |")
out.append("")

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

out.append("## Start-up and memory\n")
out.append("| system | exec → first 200 (ms, median of 3 launches) | the three launches | RSS idle (MiB) | RSS after load (MiB) |")
out.append("|---|---:|---:|---:|---:|")
for name, label in systems + [("catalog", "catalog (ServiceKit, SQLite, migrations)"), ("fastapi-catalog", "FastAPI catalog")]:
    s = summary.get(name)
    if s:
        out.append(f"| {label} | {s.get('startup_ms', 0)} | {s.get('startup_launches', '').replace(',', ', ')} | {s.get('rss_idle_kib', 0) / 1024:.1f} | {s.get('rss_loaded_kib', 0) / 1024:.1f} |")
out.append("")

out.append("## Targets\n")
checks = []
for endpoint, title in endpoints:
    sk, hb = runs.get(("servicekit", endpoint)), runs.get(("hummingbird", endpoint))
    f1, f2 = runs.get(("fastapi-1", endpoint)), runs.get(("fastapi-2", endpoint))
    if sk and hb:
        checks.append((f"{title}: ServiceKit ≥ 85% of Hummingbird's req/s", sk["rps"] >= 0.85 * hb["rps"], ratio(sk["rps"], hb["rps"])))
        checks.append((f"{title}: ServiceKit p99 ≤ 1.2× Hummingbird's", sk["p99"] <= 1.2 * hb["p99"], ratio(sk["p99"], hb["p99"])))
    if sk and f1:
        checks.append((f"{title}: ServiceKit ≥ 4× FastAPI 1 worker", sk["rps"] >= 4 * f1["rps"], ratio(sk["rps"], f1["rps"])))
    if sk and f2:
        checks.append((f"{title}: ServiceKit ≥ 2× FastAPI 2 workers", sk["rps"] >= 2 * f2["rps"], ratio(sk["rps"], f2["rps"])))
sk, hb = summary.get("servicekit", {}), summary.get("hummingbird", {})
if sk:
    checks.append(("ServiceKit idle RSS ≤ 40 MiB", sk["rss_idle_kib"] <= 40 * 1024, f"{sk['rss_idle_kib'] / 1024:.1f} MiB"))
if sk and hb:
    checks.append(("ServiceKit ready within 1.5× Hummingbird's time", sk["startup_ms"] <= 1.5 * max(hb["startup_ms"], 1),
                   f"{sk['startup_ms']} ms vs {hb['startup_ms']} ms"))
for inflight in sorted({row["concurrency"] for row in client_rows}):
    curl = next((r for r in client_rows if r["concurrency"] == inflight and r["client"] == "CurlHTTP"), None)
    ahc = next((r for r in client_rows if r["concurrency"] == inflight and r["client"] == "AsyncHTTPClient"), None)
    if curl and ahc:
        checks.append((f"{inflight} in flight: CurlHTTP req/s ≥ AsyncHTTPClient's", curl["requestsPerSecond"] >= ahc["requestsPerSecond"],
                       ratio(curl["requestsPerSecond"], ahc["requestsPerSecond"])))
        checks.append((f"{inflight} in flight: CurlHTTP p99 ≤ AsyncHTTPClient's", curl["p99Milliseconds"] <= ahc["p99Milliseconds"],
                       ratio(curl["p99Milliseconds"], ahc["p99Milliseconds"])))
        checks.append((f"{inflight} in flight: CurlHTTP CPU/request ≤ AsyncHTTPClient's",
                       curl["cpuMicrosecondsPerRequest"] <= ahc["cpuMicrosecondsPerRequest"],
                       ratio(curl["cpuMicrosecondsPerRequest"], ahc["cpuMicrosecondsPerRequest"])))
out.append("| target | met | measured |")
out.append("|---|---|---|")
for title, met, measured in checks:
    out.append(f"| {title} | {'met' if met else '**unmet**'} | {measured} |")
out.append("")
notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "NOTES.md")
if os.path.exists(notes):
    out.append(open(notes).read())
print("\n".join(out))
